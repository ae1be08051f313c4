package cli

import (
	"fmt"
	"time"

	"github.com/leash-dev/leash/internal/drift"
	"github.com/leash-dev/leash/internal/state"
)

// recordChange is how every command that changes the kernel (apply,
// rollback, reset, reapply, the reverter, restore's revert) records the
// change, in two phases, so that the state directory never lags the
// kernel: gen, complete, and the intent naming it are written first
// (state.Begin, which gives gen its number); then change(id) changes the
// kernel; then gen becomes current (state.Commit). If change fails it must
// have left the kernel as it was: gen and the intent are removed
// (state.Abort) and change's error is returned as it is, so the caller
// words it. clearsPending says the change replaces a pending confirmation
// (cleared when committed). what names the change for messages ("policy.yaml").
// The caller holds the lock and has recovered (lockState).
func recordChange(d Deps, st *state.Store, gen *state.Generation, clearsPending bool, what string, change func(id int) error) (int, error) {
	in, err := st.Begin(gen, clearsPending)
	if err != nil {
		return 0, fmt.Errorf("%s: recording the change before making it failed, nothing changed: %w", what, err)
	}
	if err := change(in.Generation); err != nil {
		if aerr := st.Abort(in); aerr != nil {
			fmt.Fprintf(d.Stderr, "leash: warning: remove the unused generation %d: %v (the next leash command removes it)\n", in.Generation, aerr)
		}
		return 0, err
	}
	if err := st.Commit(in); err != nil {
		return in.Generation, fmt.Errorf("%s is enforced, but recording it as generation %d failed (the next leash command that takes the lock records it): %w", what, in.Generation, err)
	}
	return in.Generation, nil
}

// recoverInterrupted finishes a change that a killed leash left
// half-recorded (state.Recover), and says on stderr what it did. Every
// command that takes the lock calls it first (lockState). It rolls forward
// when the kernel holds the new generation's table, compared as `leash
// status` does, and back otherwise. atBoot (leash restore) never looks at
// the kernel: at boot the table is absent whatever happened, so the
// interrupted change is rolled back and the last generation known to be
// committed is what restore loads. The kernel is opened only when an
// intent is found.
func recoverInterrupted(d Deps, g *globals, st *state.Store, atBoot bool) error {
	enforced := kernelEnforces(d, g)
	if atBoot {
		enforced = nil
	}
	r, err := st.Recover(enforced)
	if err != nil {
		return fmt.Errorf("an earlier leash was interrupted while changing the kernel, and finishing its record failed: %w; run the command again", err)
	}
	if r != nil {
		fmt.Fprintf(d.Stderr, "leash: %s\n", describeRecovery(r, atBoot))
	}
	return nil
}

// kernelEnforces reports whether the kernel holds a generation's table
// (no table for a generation without a ruleset), counters aside: the
// comparison of `leash status`.
func kernelEnforces(d Deps, g *globals) state.Enforced {
	return func(gen *state.Generation) (bool, error) {
		k, err := openKernel(d, g)
		if err != nil {
			return false, err
		}
		defer k.Close()
		seen, err := observe(k)
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
	change := fmt.Sprintf("generation %d (%s, begun %s)", in.Generation, in.Action, clock(in.Time))
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

// interrupted describes, for commands that do not take the lock, a change
// that was begun and is not recorded as done: a leash was killed, or one
// is at work right now.
type interrupted struct {
	// Generation is the change's new generation; 0 when the record is
	// unreadable.
	Generation int          `json:"generation,omitempty"`
	Previous   int          `json:"previous,omitempty"`
	Action     state.Action `json:"action,omitempty"`
	Since      *time.Time   `json:"since,omitempty"`
	// Outcome is what the next command that takes the lock will record:
	// "rolled forward" (the kernel holds the new generation, so it is
	// shown as current) or "rolled back"; "" when the kernel could not
	// be read to tell.
	Outcome state.Outcome `json:"outcome,omitempty"`
	Reason  string        `json:"reason"`
}

// viewCurrent is the generation in force as a command that does not take
// the lock (status, history, show, check, reapply before it locks) sees
// it: it decides an interrupted change in memory by the rules the next
// locked command will write (state.Decide), and never writes or waits.
// The generation is the interrupted change's when the kernel holds it,
// else the recorded current one, with st.Current's errors (ErrNone, a
// *state.CorruptError). intr is nil when no change is unrecorded.
func viewCurrent(d Deps, g *globals, st *state.Store) (gen *state.Generation, intr *interrupted, err error) {
	r, derr := st.Decide(kernelEnforces(d, g))
	switch {
	case derr != nil:
		in, _ := st.Intent() // Decide read it; only the kernel failed
		intr = &interrupted{Reason: fmt.Sprintf("undecided: %v", derr)}
		if in != nil {
			intr.Generation, intr.Previous, intr.Action, intr.Since = in.Generation, in.Previous, in.Action, &in.Time
		}
	case r != nil:
		intr = &interrupted{Outcome: r.Outcome, Reason: r.Reason}
		if in := r.Intent; in != nil {
			intr.Generation, intr.Previous, intr.Action, intr.Since = in.Generation, in.Previous, in.Action, &in.Time
		}
		if r.Outcome == state.RolledForward && r.Generation != nil {
			return r.Generation, intr, nil
		}
	}
	gen, err = st.Current()
	return gen, intr, err
}

// generationView is viewCurrent for readers that poll the generation in
// force (the denial log's rule book): the cheap CurrentID unless a change
// is half-recorded.
type generationView struct {
	d  Deps
	g  *globals
	st *state.Store
}

func (v generationView) Current() (*state.Generation, error) {
	gen, _, err := viewCurrent(v.d, v.g, v.st)
	return gen, err
}

func (v generationView) CurrentID() (int, error) {
	if in, err := v.st.Intent(); err == nil && in == nil {
		return v.st.CurrentID()
	}
	gen, err := v.Current()
	if err != nil {
		return 0, err
	}
	return gen.ID, nil
}

// String says what the next locked command will make of the change.
func (i *interrupted) String() string {
	what := "a change whose record is unreadable"
	if i.Generation > 0 {
		what = fmt.Sprintf("generation %d (%s, begun %s)", i.Generation, i.Action, clock(*i.Since))
	}
	switch i.Outcome {
	case state.RolledForward:
		return fmt.Sprintf("%s is not recorded as done yet (a leash was interrupted, or is at work): %s, so it counts as current; the leash at work, or else the next leash command that takes the lock, records it", what, i.Reason)
	case state.RolledBack:
		return fmt.Sprintf("%s is not recorded as done (a leash was interrupted, or is at work): %s, so it does not count yet; the leash at work may still finish it, or else the next leash command that takes the lock drops it", what, i.Reason)
	}
	return fmt.Sprintf("%s is not recorded as done (a leash was interrupted, or is at work), and it cannot be told whether the kernel holds it: %s", what, i.Reason)
}
