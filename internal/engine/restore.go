package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/state"
)

// RestoreResult is what Restore did.
type RestoreResult struct {
	// Nothing says why nothing was restored ("" when something was).
	Nothing string
	// Restored is the generation whose stored table is in force now.
	Restored *state.Meta
	// NoTable: the restored generation has no table (a reset).
	NoTable bool
	// Reverted is the confirmation that was pending when leash restarted:
	// the generation before it was restored instead, recorded as
	// RevertGeneration.
	Reverted         *state.Pending
	RevertGeneration int
}

// Restore loads the current generation's stored ruleset into the kernel,
// without policy, DNS or user database (at boot). A confirmation pending
// when leash restarted is reverted; a change interrupted by a kill is
// rolled back (the kernel cannot tell at boot). Damaged state fails
// closed: the emergency table is loaded and the error names the damage and
// the fix.
func (e *Engine) Restore(ctx context.Context) (*RestoreResult, error) {
	if _, err := os.Stat(e.Store.Dir); errors.Is(err, os.ErrNotExist) {
		return &RestoreResult{Nothing: fmt.Sprintf("%s does not exist (leash was never applied here)", e.Store.Dir)}, nil
	} else if err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	var res *RestoreResult
	// At boot the kernel cannot say whether a change that was interrupted
	// took effect: it is rolled back, and the last generation known to be
	// committed is loaded.
	err := e.locked(ctx, true, func(k Kernel) (err error) {
		res, err = e.restore(k)
		return err
	})
	return res, err
}

func (e *Engine) restore(k Kernel) (*RestoreResult, error) {
	p, err := e.Store.Pending()
	if err != nil {
		return nil, e.emergency(k, 0, err)
	}
	if p != nil {
		id, err := e.revertPending(k, p, fmt.Sprintf("revert of %d at restore (not confirmed before leash restarted)", p.Generation))
		if err != nil {
			return nil, err
		}
		return &RestoreResult{Reverted: p, RevertGeneration: id}, nil
	}
	cur, err := e.Store.Current()
	if errors.Is(err, state.ErrNone) {
		return &RestoreResult{Nothing: fmt.Sprintf("no generation was ever applied in %s", e.Store.Dir)}, nil
	}
	if err == nil && cur.Ruleset != nil {
		if verr := ruleset.Validate(cur.Ruleset); verr != nil {
			err = &state.CorruptError{Path: e.Store.GenerationFile(cur.ID), Err: verr}
		}
	}
	if err != nil {
		id, _ := e.Store.CurrentID() // 0 when unreadable: only left out of repair hints
		return nil, e.emergency(k, id, err)
	}
	if err := enforce(k, cur.Ruleset); err != nil {
		return nil, e.emergency(k, cur.ID, fmt.Errorf("the kernel refused generation %d's table: %w", cur.ID, err))
	}
	if cur.What() == state.ActionEmergency {
		return nil, fmt.Errorf("restored %s: the EMERGENCY table is in force since %s. Fix: leash rollback N to an intact generation (see leash history) or leash apply FILE",
			Describe(cur.Meta), FormatTime(cur.Time))
	}
	return &RestoreResult{Restored: &cur.Meta, NoTable: cur.Ruleset == nil}, nil
}

// emergency loads the emergency table because the stored state (cause)
// cannot be trusted, and returns the error that tells the admin what is
// damaged and how to repair it. Nothing is written to the state directory:
// the damaged files stay for inspection, and the next restore fails closed
// the same way until an admin repairs it.
func (e *Engine) emergency(k Kernel, bad int, cause error) error {
	if err := k.Apply(compile.Emergency()); err != nil {
		return fmt.Errorf("restore: %v; loading the emergency table failed too: %w", cause, err)
	}
	fix := "leash apply FILE"
	if ids := e.intactIDs(bad); len(ids) > 0 {
		fix = fmt.Sprintf("leash rollback N with an intact generation (%s; see leash history), or %s", strings.Join(ids, ", "), fix)
	}
	return fmt.Errorf("restore: %v.\nThe EMERGENCY table is loaded: loopback, established connections, neighbour discovery and DHCP pass; every other new outgoing packet is dropped.\nFix: %s", cause, fix)
}
