package engine

import (
	"context"
	"fmt"

	"github.com/leash-dev/leash/internal/drift"
	"github.com/leash-dev/leash/internal/state"
)

// RepairResult is what Repair did.
type RepairResult struct {
	// Repaired is true when the kernel did not hold the current
	// generation's table and it was loaded again.
	Repaired bool
	// Was is what the kernel held instead (drift.Missing, drift.Drifted).
	Was drift.State
	// Generation is the generation in force.
	Generation *state.Meta
	// TookOver is true when an owning kernel (the daemon's) took the
	// table over from an earlier owner or from a command run while no
	// daemon ran (see takeOver).
	TookOver bool
}

// Repair makes the kernel hold the current generation's table again when
// something else changed or removed it (`nft flush ruleset`, `systemctl
// restart nftables`, a hand edit): the periodic full pass of the daemon.
// Under the lock; it records nothing (the generation in force does not
// change), and it does nothing when the kernel is in sync, when nothing
// was applied, or when the current generation is a reset (no table).
// Idempotent. With an owning kernel (the daemon's), a table in sync that
// it does not own yet is taken over (takeOver); a repaired table is owned
// by it anyway.
func (e *Engine) Repair(ctx context.Context) (*RepairResult, error) {
	var res *RepairResult
	err := e.locked(ctx, false, func(k Kernel) error {
		gen, err := e.Store.Current()
		if err != nil {
			return nil // nothing applied, or damaged: status reports it
		}
		res = &RepairResult{Generation: &gen.Meta}
		if gen.Ruleset == nil {
			return nil
		}
		seen, err := Observe(k)
		if err != nil {
			return err
		}
		rep := drift.Compare(gen.Ruleset, seen, "")
		if rep.State == drift.InSync {
			res.TookOver, err = e.takeOver(k, gen)
			return err
		}
		if err := interrupted(ctx); err != nil {
			return err
		}
		if err := e.enforce(k, gen.Ruleset); err != nil {
			return fmt.Errorf("repair: the kernel refused %s's table: %w", Describe(gen.Meta), err)
		}
		res.Repaired, res.Was = true, rep.State
		return nil
	})
	return res, err
}
