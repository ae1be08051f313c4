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
