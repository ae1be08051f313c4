package state

import (
	"errors"
	"fmt"
	"os"
)

// Outcome is what recovery does with an interrupted change.
type Outcome string

// The two outcomes of recovery.
const (
	// RolledForward: the kernel took the change; its generation becomes
	// current.
	RolledForward Outcome = "rolled forward"
	// RolledBack: the change is not known to be in the kernel; the
	// generation that was current stays current and the new one is removed.
	RolledBack Outcome = "rolled back"
)

// Enforced reports whether the kernel holds generation g's table (for a
// generation without a ruleset: holds no table). The caller compares
// canonical forms without counters, as `leash status` does.
type Enforced func(g *Generation) (bool, error)

// Recovery is the decision about an interrupted change.
type Recovery struct {
	// Intent is the interrupted change; nil when its record is corrupt.
	Intent *Intent
	// Corrupt is why the intent record could not be read (then the
	// outcome is RolledBack).
	Corrupt error
	Outcome Outcome
	// Reason says, for people, why that outcome.
	Reason string
	// Generation is the interrupted change's generation when it is rolled
	// forward: the generation in force after recovery (nil if it does not
	// load; Current then says why).
	Generation *Generation
	// Removed lists the unused generations Finish removed.
	Removed []int
}

// Decide looks at the recorded intent, without writing anything, and says
// what Recover would do; nil when no change was interrupted. The rules:
//
//   - intent record corrupt: roll back (it cannot say what was attempted);
//   - `current` already names the new generation: roll forward (only the
//     last step of Commit was missing);
//   - `current` names neither the new nor the previous generation: the
//     record is stale, roll back;
//   - the new generation's files do not load (leash died while writing
//     them, so the kernel was never touched): roll back;
//   - enforced is nil (the kernel cannot tell, as at boot): roll back, the
//     conservative choice: the new generation was never confirmed to be
//     enforced, the previous one was;
//   - otherwise roll forward exactly when enforced says the kernel holds
//     the new generation's table. An error from enforced is returned.
//
// Callers that do not hold the lock may use Decide to see the state as it
// will be after recovery; an intent is then also what an apply in progress
// looks like, and the same rules give what is in force at this moment.
func (s *Store) Decide(enforced Enforced) (*Recovery, error) {
	in, err := s.Intent()
	var ce *CorruptError
	switch {
	case errors.As(err, &ce):
		return &Recovery{Corrupt: err, Outcome: RolledBack, Reason: fmt.Sprintf("the record of the change is unusable (%v)", err)}, nil
	case err != nil || in == nil:
		return nil, err
	}
	back := func(format string, a ...any) (*Recovery, error) {
		return &Recovery{Intent: in, Outcome: RolledBack, Reason: fmt.Sprintf(format, a...)}, nil
	}
	cur, err := s.CurrentID()
	switch {
	case errors.Is(err, ErrNone):
		cur = 0
	case errors.As(err, &ce):
		cur = -1 // unreadable: the kernel decides
	case err != nil:
		return nil, err
	}
	if cur == in.Generation {
		// If it does not load, Current reports that to whoever reads it.
		g, _ := s.Load(in.Generation)
		return &Recovery{Intent: in, Outcome: RolledForward, Generation: g, Reason: "it was already recorded as current"}, nil
	}
	if cur >= 0 && cur != in.Previous {
		return back("the record is stale: generation %d is current, not %d", cur, in.Previous)
	}
	g, err := s.Load(in.Generation)
	if err != nil {
		return back("its generation was not completely written, so the kernel was not changed (%v)", err)
	}
	if enforced == nil {
		return back("whether the kernel took it cannot be checked, and it was never confirmed to be enforced")
	}
	ok, err := enforced(g)
	if err != nil {
		return nil, fmt.Errorf("state: decide interrupted change to generation %d: %w", in.Generation, err)
	}
	if !ok {
		return back("the kernel does not hold its table")
	}
	return &Recovery{Intent: in, Outcome: RolledForward, Generation: g, Reason: "the kernel holds its table"}, nil
}

// Finish carries out a decision of Decide; the caller holds the lock.
// Rolling forward is Commit. Rolling back undoes a pending confirmation of
// the new generation (unpend), removes the new generation's directory (only
// if it is the newest and not current), and removes the intent last, so
// that a crash in Finish leaves an intent that decides the same way again.
// A corrupt record is rolled back by removing the generations newer than
// `current` (Begin only ever adds the newest generation, so those were
// never committed) when `current` is readable, and then the record.
func (s *Store) Finish(r *Recovery) error {
	switch {
	case r == nil:
		return nil
	case r.Outcome == RolledForward:
		return s.Commit(r.Intent)
	case r.Intent == nil:
		return s.dropCorruptIntent(r)
	}
	in := r.Intent
	if err := s.unpend(in); err != nil {
		return err
	}
	removed, err := s.removeUncommitted(in.Generation)
	if err != nil {
		return err
	}
	if removed {
		r.Removed = append(r.Removed, in.Generation)
	}
	return s.removeIntent()
}

// unpend undoes the pending confirmation of a rolled-back change in: the
// confirmation it replaced is put back (the generation in force is that
// one's, and its reverter is still waiting: Pending.Awaits), or, if it
// replaced none, the record is removed when a revert would only re-apply
// the generation in force. A record written before Replaces existed that
// reverts further back is left as it is: its reverter still reverts to the
// last confirmed generation at its deadline.
func (s *Store) unpend(in *Intent) error {
	p, err := s.Pending()
	switch {
	case err != nil || p == nil || p.Generation != in.Generation:
		return nil // not this change's; a corrupt record is reported by its readers
	case p.Replaces != nil:
		return s.SetPending(p.Replaces)
	case p.Previous == in.Previous:
		return s.ClearPending()
	}
	return nil
}

// dropCorruptIntent rolls back a change whose record is unreadable.
func (s *Store) dropCorruptIntent(r *Recovery) error {
	cur, err := s.CurrentID()
	if err == nil {
		ids, err := s.IDs()
		if err != nil {
			return err
		}
		for _, id := range ids {
			if id <= cur {
				continue
			}
			if err := os.RemoveAll(s.genDir(id)); err != nil {
				return fmt.Errorf("state: remove uncommitted generation %d: %w", id, err)
			}
			r.Removed = append(r.Removed, id)
		}
	}
	return s.removeIntent()
}

// Recover decides and finishes an interrupted change (Decide, then
// Finish); nil when there was none. The caller holds the lock and calls it
// before reading or changing anything else in the state directory.
func (s *Store) Recover(enforced Enforced) (*Recovery, error) {
	r, err := s.Decide(enforced)
	if err != nil || r == nil {
		return r, err
	}
	return r, s.Finish(r)
}
