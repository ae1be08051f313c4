package daemon

import (
	"context"

	"github.com/leash-dev/leash/internal/engine"
	"github.com/leash-dev/leash/internal/ruleset"
)

// OwningKernel is the daemon's connection to the kernel: one netlink socket
// that owns `table inet leash` (nft.Conn opened with nft.Owning; in tests
// nft.FakeOwner). While it is open, no other process may change, delete or
// flush the table; when it closes (the daemon stops or is killed) the
// table stays in force, orphaned, and the next daemon takes it over.
type OwningKernel interface {
	engine.Kernel
	Owning() bool
	Owns() (bool, error)
	Claim() error
}

// Own makes every operation of e use k, the one owning connection, for as
// long as the daemon runs: the engine's per-operation Close leaves it open
// (closing it would orphan the table). The caller closes k when the daemon
// ends.
func Own(e *engine.Engine, k OwningKernel) {
	e.OpenKernel = func() (engine.Kernel, error) { return held{k}, nil }
}

// held is the owning connection as one engine operation sees it: Close
// does nothing.
type held struct{ OwningKernel }

func (held) Close() error { return nil }

// ApplyContext lets an apply stop early with ctx where the connection can
// (nft.Conn.ApplyContext).
func (h held) ApplyContext(ctx context.Context, rs *ruleset.Ruleset) error {
	if ca, ok := h.OwningKernel.(interface {
		ApplyContext(context.Context, *ruleset.Ruleset) error
	}); ok {
		return ca.ApplyContext(ctx, rs)
	}
	return h.Apply(rs)
}

// FullPassEvery is how many periodic passes make one full pass while the
// daemon owns the table: the others only check that it still does.
const FullPassEvery = 12

// ownedPasses is what periodic remembers between passes.
type ownedPasses struct {
	// inSync: the last full pass left the kernel holding the table in
	// force; quick counts the cheap passes since.
	inSync bool
	quick  int
}

// periodic is the periodic pass. A full pass (engine.Repair: read and
// compare the whole table, about a second for a 100,000-user policy) is
// needed only while other processes can change the table. While the
// daemon's own socket owns it (Config.Owner), nobody else can, and every
// change of the daemon's own goes through the engine: so after a full
// pass found the table in force, the next FullPassEvery-1 passes only
// check that the socket still owns the table (one netlink request), as
// long as no confirmation is pending (a full pass also settles it).
func (d *daemon) periodic(ctx context.Context) {
	if d.Owner != nil && d.owned.inSync && d.owned.quick < FullPassEvery-1 && d.Engine.Pending() == nil {
		if mine, err := d.Owner.Owns(); err == nil && mine {
			d.owned.quick++
			if d.deferred {
				d.applyFile(ctx)
			}
			return
		}
	}
	d.owned.quick = 0
	d.owned.inSync = d.repair(ctx)
}
