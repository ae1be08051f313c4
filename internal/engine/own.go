package engine

import (
	"errors"
	"fmt"

	"github.com/leash-dev/leash/internal/drift"
	"github.com/leash-dev/leash/internal/nft"
	"github.com/leash-dev/leash/internal/state"
)

// owningKernel is a Kernel whose connection owns the table it creates
// (nft.Conn opened with nft.Owning, nft.FakeOwner): the daemon's. While it
// is open no other process can change, delete or flush `table inet leash`;
// when it closes the table stays, orphaned, in force.
type owningKernel interface {
	Kernel
	// Owning reports whether the connection creates owned tables.
	Owning() bool
	// Owns reports whether the table exists and this connection owns it.
	Owns() (bool, error)
	// Claim takes over an orphaned table (persist, no owner) in place,
	// keeping its content and counters; it fails for a table made
	// without the persist flag or owned by another live connection.
	Claim() error
}

// takeOver makes an owning kernel own the table that holds gen: claimed in
// place when it is an orphan of an earlier owner (counters kept), else
// replaced by gen's table (a table a command made while no daemon ran). A
// table another live owner holds (a second daemon) is an error. It reports
// whether the table was taken over; a kernel that owns nothing, a table
// already owned or no table is left alone.
func (e *Engine) takeOver(k Kernel, gen *state.Generation) (bool, error) {
	o, ok := k.(owningKernel)
	if !ok || !o.Owning() || gen.Ruleset == nil {
		return false, nil
	}
	mine, err := o.Owns()
	if err != nil || mine {
		return false, err
	}
	if o.Claim() == nil {
		return true, nil
	}
	if err := e.enforce(k, gen.Ruleset); err != nil {
		return false, fmt.Errorf("take over table inet leash: %w", err)
	}
	return true, nil
}

// ownerHolds reports whether a change refused with err failed only because
// another socket owns the table (a running leash daemon: nft.ErrNotOwner)
// while the table is exactly gen's: then there is nothing to restore
// (`leash restore` from leash.service, run again by a restart of
// nftables.service while the daemon runs).
func (e *Engine) ownerHolds(k Kernel, gen *state.Generation, err error) bool {
	if !errors.Is(err, nft.ErrNotOwner) || gen.Ruleset == nil {
		return false
	}
	seen, rerr := Observe(k)
	return rerr == nil && drift.Compare(gen.Ruleset, seen, "").State == drift.InSync
}
