package engine

import (
	"fmt"
	"time"

	"github.com/leash-dev/leash/internal/drift"
	"github.com/leash-dev/leash/internal/state"
)

// recover finishes a change that a killed leash left half-recorded
// (state.Recover), and Notify says what it did. Every locked operation
// calls it first. It rolls forward when the kernel holds the new
// generation's table, compared as `leash status` does, and back otherwise.
// atBoot (restore) never looks at the kernel: at boot the table is absent
// whatever happened, so the interrupted change is rolled back and the last
// generation known to be committed is what restore loads. The kernel is
// opened only when an intent is found.
func (e *Engine) recover(atBoot bool) error {
	enforced := e.enforces()
	if atBoot {
		enforced = nil
	}
	r, err := e.Store.Recover(enforced)
	if err != nil {
		return fmt.Errorf("an earlier leash was interrupted while changing the kernel, and finishing its record failed: %w; run the command again", err)
	}
	if r != nil {
		e.notify("%s", describeRecovery(r, atBoot))
	}
	return nil
}

// enforces reports whether the kernel holds a generation's table (no table
// for a generation without a ruleset), counters aside: the comparison of
// `leash status`.
func (e *Engine) enforces() state.Enforced {
	return func(gen *state.Generation) (bool, error) {
		k, err := e.kernel()
		if err != nil {
			return false, err
		}
		defer k.Close()
		seen, err := Observe(k)
		if err != nil {
			return false, err
		}
		switch drift.Compare(gen.Ruleset, seen, "").State {
		case drift.InSync:
			return true, nil
		case drift.NotApplied:
			return gen.Ruleset == nil, nil
		}
		return false, nil
	}
}

// describeRecovery says what recovery did, for people.
func describeRecovery(r *state.Recovery, atBoot bool) string {
	if r.Intent == nil {
		s := fmt.Sprintf("dropped the record of an interrupted change: %s", r.Reason)
		if len(r.Removed) > 0 {
			s += fmt.Sprintf("; removed the unrecorded generations %v", r.Removed)
		}
		return s + "; the current generation stays in force"
	}
	in := r.Intent
	change := fmt.Sprintf("generation %d (%s, begun %s)", in.Generation, in.Action, FormatTime(in.Time))
	if r.Outcome == state.RolledForward {
		return fmt.Sprintf("an interrupted leash left %s half-recorded; %s, so it is now the current generation", change, r.Reason)
	}
	prev := "no generation"
	if in.Previous > 0 {
		prev = fmt.Sprintf("generation %d", in.Previous)
	}
	if atBoot {
		return fmt.Sprintf("restore: the interrupted %s is not restored: %s; %s, the last one known to be committed, stays current and is what is loaded",
			change, r.Reason, prev)
	}
	return fmt.Sprintf("an interrupted leash left %s half-recorded; %s, so it was dropped and %s stays current", change, r.Reason, prev)
}

// Interrupted describes, for readers that do not take the lock, a change
// that was begun and is not recorded as done: a leash was killed, or one
// is at work right now.
type Interrupted struct {
	// Generation is the change's new generation; 0 when the record is
	// unreadable.
	Generation int          `json:"generation,omitempty"`
	Previous   int          `json:"previous,omitempty"`
	Action     state.Action `json:"action,omitempty"`
	Since      *time.Time   `json:"since,omitempty"`
	// Outcome is what the next operation that takes the lock will record:
	// "rolled forward" (the kernel holds the new generation, so it is
	// shown as current) or "rolled back"; "" when the kernel could not
	// be read to tell.
	Outcome state.Outcome `json:"outcome,omitempty"`
	Reason  string        `json:"reason"`
}

// String says what the next locked operation will make of the change.
func (i *Interrupted) String() string {
	what := "a change whose record is unreadable"
	if i.Generation > 0 {
		what = fmt.Sprintf("generation %d (%s, begun %s)", i.Generation, i.Action, FormatTime(*i.Since))
	}
	switch i.Outcome {
	case state.RolledForward:
		return fmt.Sprintf("%s is not recorded as done yet (a leash was interrupted, or is at work): %s, so it counts as current; the leash at work, or else the next leash command that takes the lock, records it", what, i.Reason)
	case state.RolledBack:
		return fmt.Sprintf("%s is not recorded as done (a leash was interrupted, or is at work): %s, so it does not count yet; the leash at work may still finish it, or else the next leash command that takes the lock drops it", what, i.Reason)
	}
	return fmt.Sprintf("%s is not recorded as done (a leash was interrupted, or is at work), and it cannot be told whether the kernel holds it: %s", what, i.Reason)
}

// View is the generation in force as a reader that does not take the lock
// (status, history, show, check, reapply before it locks) sees it: it
// decides an interrupted change in memory by the rules the next locked
// operation will write (state.Decide), and never writes or waits. The
// generation is the interrupted change's when the kernel holds it, else
// the recorded current one, with Store.Current's errors (state.ErrNone, a
// *state.CorruptError). intr is nil when no change is unrecorded.
func (e *Engine) View() (gen *state.Generation, intr *Interrupted, err error) {
	r, derr := e.Store.Decide(e.enforces())
	switch {
	case derr != nil:
		in, _ := e.Store.Intent() // Decide read it; only the kernel failed
		intr = &Interrupted{Reason: fmt.Sprintf("undecided: %v", derr)}
		if in != nil {
			intr.Generation, intr.Previous, intr.Action, intr.Since = in.Generation, in.Previous, in.Action, &in.Time
		}
	case r != nil:
		intr = &Interrupted{Outcome: r.Outcome, Reason: r.Reason}
		if in := r.Intent; in != nil {
			intr.Generation, intr.Previous, intr.Action, intr.Since = in.Generation, in.Previous, in.Action, &in.Time
		}
		if r.Outcome == state.RolledForward && r.Generation != nil {
			return r.Generation, intr, e.foreignGeneration(r.Generation)
		}
	}
	gen, err = e.Store.Current()
	if err == nil {
		if nerr := e.foreignGeneration(gen); nerr != nil {
			return nil, intr, nerr
		}
	}
	return gen, intr, err
}

// Generations is View for readers that poll the generation in force (the
// denial log's rule book): the cheap CurrentID unless a change is
// half-recorded.
type Generations struct{ E *Engine }

// Current is the generation in force (Engine.View).
func (v Generations) Current() (*state.Generation, error) {
	gen, _, err := v.E.View()
	return gen, err
}

// CurrentID is the number of the generation in force.
func (v Generations) CurrentID() (int, error) {
	if in, err := v.E.Store.Intent(); err == nil && in == nil {
		return v.E.Store.CurrentID()
	}
	gen, err := v.Current()
	if err != nil {
		return 0, err
	}
	return gen.ID, nil
}
