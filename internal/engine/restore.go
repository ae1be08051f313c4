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
	// RevertGeneration (0 when the state could not be written).
	Reverted         *state.Pending
	RevertGeneration int
	// Unrecorded says why nothing could be recorded (the state directory
	// is read-only, or its lock cannot be taken): the table was loaded
	// from the state as it is.
	Unrecorded error
}

// Restore loads the current generation's stored ruleset into the kernel,
// without policy, DNS or user database (at boot). It fails closed in every
// case: a confirmation pending when leash restarted is reverted; a change
// interrupted by a kill is rolled back (the kernel cannot tell at boot);
// when the lock cannot be taken (a read-only state directory) the table is
// loaded from the state as it reads, recording nothing; when `current` is
// missing or damaged but generations are stored, the newest intact one is
// loaded (error, exit 1); when nothing usable is left, the emergency table
// is loaded (error, exit 1). Only "never applied here" loads nothing.
func (e *Engine) Restore(ctx context.Context) (*RestoreResult, error) {
	if _, err := os.Stat(e.Store.Dir); errors.Is(err, os.ErrNotExist) {
		return &RestoreResult{Nothing: fmt.Sprintf("%s does not exist (leash was never applied here)", e.Store.Dir)}, nil
	} else if err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	if err := e.Store.CheckDir(); err != nil {
		return nil, e.untrusted(err)
	}
	lk, err := e.lock(ctx, true)
	var le *state.LockedError
	switch {
	case isNamespaceError(err):
		// Another namespace's table must not be loaded here, and loading
		// nothing would leave egress open: fail closed.
		return nil, e.untrusted(err)
	case errors.As(err, &le) || ctx.Err() != nil:
		return nil, err
	case err != nil:
		k, kerr := e.kernel()
		if kerr != nil {
			return nil, kerr
		}
		defer k.Close()
		return e.restoreUnlocked(k, err)
	}
	defer lk.Unlock()
	k, err := e.kernel()
	if err != nil {
		return nil, err
	}
	defer k.Close()
	return e.restore(k)
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
	if errors.Is(err, state.ErrNone) && !e.anyStored() {
		return &RestoreResult{Nothing: fmt.Sprintf("no generation was ever applied in %s", e.Store.Dir)}, nil
	}
	if err == nil {
		err = e.loadable(cur)
	}
	if err != nil {
		return e.restoreDamaged(k, err)
	}
	return e.restoreGeneration(k, cur)
}

// restoreDamaged fails closed on state that cannot say what is in force
// (cause): when only the pointer `current` is missing or damaged, the
// newest intact generation is loaded (restoreNewest); when the current
// generation itself is damaged, what it was (an apply, or the revert of
// one) is lost with it, so the emergency table is loaded.
func (e *Engine) restoreDamaged(k Kernel, cause error) (*RestoreResult, error) {
	var ce *state.CorruptError
	if errors.Is(cause, state.ErrNone) || (errors.As(cause, &ce) && ce.Path == e.Store.CurrentFile()) {
		return e.restoreNewest(k, cause)
	}
	id, _ := e.Store.CurrentID() // 0 when unreadable: only left out of repair hints
	return nil, e.emergency(k, id, cause)
}

// restoreGeneration loads gen's table, the emergency table if the kernel
// refuses it.
func (e *Engine) restoreGeneration(k Kernel, gen *state.Generation) (*RestoreResult, error) {
	if err := e.enforce(k, gen.Ruleset); err != nil {
		if e.ownerHolds(k, gen, err) {
			e.notify("a leash daemon owns table inet %s and holds %s: nothing to restore", ruleset.TableName, Describe(gen.Meta))
			return &RestoreResult{Restored: &gen.Meta, NoTable: gen.Ruleset == nil}, nil
		}
		return nil, e.emergency(k, gen.ID, fmt.Errorf("the kernel refused generation %d's table: %w", gen.ID, err))
	}
	if gen.PolicyMissing {
		e.warn("%s: the policy source is missing; its compiled table is intact and loaded. leash reapply and leash check --policy need the source: apply the policy file again to store it", Describe(gen.Meta))
	}
	if gen.What() == state.ActionEmergency {
		return nil, fmt.Errorf("restored %s: the EMERGENCY table is in force since %s. Fix: leash rollback N to an intact generation (see leash history) or leash apply FILE",
			Describe(gen.Meta), FormatTime(gen.Time))
	}
	return &RestoreResult{Restored: &gen.Meta, NoTable: gen.Ruleset == nil}, nil
}

// restoreNewest handles a `current` that is missing or unusable (cause)
// while generations are stored: the newest intact committed generation
// that no later one reverted is loaded, and the error says so and how to
// record it; nothing intact leaves the emergency table.
func (e *Engine) restoreNewest(k Kernel, cause error) (*RestoreResult, error) {
	gen := e.newestIntact()
	if gen == nil {
		id, _ := e.Store.CurrentID() // 0 when unreadable: only left out of repair hints
		return nil, e.emergency(k, id, cause)
	}
	if _, err := e.restoreGeneration(k, gen); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("restore: %v; loaded the newest intact generation instead, %s, applied %s. Fix: leash rollback %d records it as current (or leash apply FILE)",
		cause, Describe(gen.Meta), FormatTime(gen.Time), gen.ID)
}

// restoreUnlocked restores without the lock (cause: why it could not be
// taken, such as a read-only state directory): at boot nothing else
// changes the state. It decides as the locked restore would, in memory,
// and loads that table; the revert of a pending confirmation is recorded
// by the next leash command that can take the lock.
func (e *Engine) restoreUnlocked(k Kernel, cause error) (*RestoreResult, error) {
	e.warn("cannot take the state directory's lock (%v): restoring from the state as it reads, recording nothing", cause)
	if err := e.checkNamespace(); err != nil {
		return nil, e.emergency(k, 0, err)
	}
	unrecorded := fmt.Errorf("the state directory's lock cannot be taken: %w", cause)
	if p, err := e.Store.Pending(); err == nil && p != nil {
		var prev *state.Generation
		if p.Previous > 0 {
			if prev, err = e.loadIntact(p.Previous); err != nil {
				return nil, e.emergency(k, p.Previous, err)
			}
			if err := e.enforce(k, prev.Ruleset); err != nil {
				return nil, e.emergency(k, prev.ID, fmt.Errorf("the kernel refused generation %d's table: %w", prev.ID, err))
			}
		} else if err := k.Reset(); err != nil {
			return nil, fmt.Errorf("restore: remove table inet %s: %w", ruleset.TableName, err)
		}
		return &RestoreResult{Reverted: p, Unrecorded: unrecorded}, nil
	}
	var gen *state.Generation
	r, _ := e.Store.Decide(nil) // at boot: an interrupted change is rolled back
	if r != nil && r.Outcome == state.RolledForward {
		gen = r.Generation
	}
	var err error
	if gen == nil {
		gen, err = e.Store.Current()
	}
	if errors.Is(err, state.ErrNone) && !e.anyStored() {
		return &RestoreResult{Nothing: fmt.Sprintf("no generation was ever applied in %s", e.Store.Dir)}, nil
	}
	if err == nil {
		err = e.loadable(gen)
	}
	if err != nil {
		return e.restoreDamaged(k, err)
	}
	res, err := e.restoreGeneration(k, gen)
	if res != nil {
		res.Unrecorded = unrecorded
	}
	return res, err
}

// untrusted fails closed when the state directory is one another user
// could have written (state.Store.CheckDir): nothing in it is loaded, the
// emergency table is, and the error names the chmod or chown to run.
func (e *Engine) untrusted(cause error) error {
	k, err := e.kernel()
	if err != nil {
		return fmt.Errorf("%w; %w", cause, err)
	}
	defer k.Close()
	return e.emergency(k, 0, cause)
}

// loadable checks that gen's stored ruleset passes validation.
func (e *Engine) loadable(gen *state.Generation) error {
	if gen.Ruleset == nil {
		return nil
	}
	if err := ruleset.Validate(gen.Ruleset); err != nil {
		return &state.CorruptError{Path: e.Store.GenerationFile(gen.ID), Err: err}
	}
	return nil
}

// anyStored reports whether any generation directory exists.
func (e *Engine) anyStored() bool {
	ids, err := e.Store.IDs()
	return err != nil || len(ids) > 0
}

// newestIntact is the newest generation that loads and validates and is
// not an interrupted change's, not awaiting confirmation and not reverted
// by a later generation (nil: none).
func (e *Engine) newestIntact() *state.Generation {
	ids, err := e.Store.IDs()
	if err != nil {
		return nil
	}
	skip := map[int]bool{}
	if entries, err := e.Store.History(); err == nil {
		for _, en := range entries {
			if en.Err == nil && en.Reverts > 0 {
				skip[en.Reverts] = true
			}
		}
	}
	if in, err := e.Store.Intent(); err == nil && in != nil {
		skip[in.Generation] = true
	}
	if p, err := e.Store.Pending(); err == nil && p != nil {
		skip[p.Generation] = true
	}
	for i := len(ids) - 1; i >= 0; i-- {
		if skip[ids[i]] {
			continue
		}
		if gen, err := e.loadIntact(ids[i]); err == nil {
			return gen
		}
	}
	return nil
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
