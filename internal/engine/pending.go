package engine

import (
	"errors"
	"fmt"
	"time"

	"github.com/leash-dev/leash/internal/state"
)

// OverdueGrace is how long past its deadline a pending confirmation waits
// for its reverter before any leash command that takes the lock reverts it
// itself. Within it, a late confirm still keeps the generation.
const OverdueGrace = 10 * time.Second

// PendingState says how a pending confirmation stands.
type PendingState string

// The states of a pending confirmation. All but none need the admin's
// attention: `leash status` and `leash history` exit 1 on them.
const (
	// PendingWaiting: the reverter waits for the deadline.
	PendingWaiting PendingState = "pending"
	// PendingOverdue: the deadline (and OverdueGrace) passed, and the
	// generation was not reverted: its reverter failed or is stuck; the
	// next leash command that takes the lock reverts it.
	PendingOverdue PendingState = "overdue"
	// PendingOrphaned: the reverter is gone before the deadline; the next
	// leash command that takes the lock starts another.
	PendingOrphaned PendingState = "orphaned"
	// PendingUnreadable: pending.json is damaged; the reverter reverts
	// by its own arguments at the deadline, `leash confirm` removes it.
	PendingUnreadable PendingState = "unreadable"
)

// PendingReport is a pending confirmation as readers report it.
type PendingReport struct {
	State   PendingState   `json:"state"`
	Pending *state.Pending `json:"pending,omitempty"`
	// Left is the time until the deadline (negative: past it).
	Left time.Duration `json:"left_ns"`
	// Error says why the record is unreadable.
	Error string `json:"error,omitempty"`
}

// Pending reports the pending confirmation (nil: none), as the next
// locked command will find it: the record of an interrupted apply --confirm
// that recovery rolls back is replaced by the confirmation it replaced. It
// never writes.
func (e *Engine) Pending() *PendingReport {
	p, err := e.Store.Pending()
	if err != nil {
		return &PendingReport{State: PendingUnreadable, Error: err.Error()}
	}
	if p != nil {
		if r, err := e.Store.Decide(e.enforces()); err == nil && r != nil && r.Outcome == state.RolledBack && r.Intent != nil && r.Intent.Generation == p.Generation {
			p = p.Replaces
		}
	}
	if p == nil {
		return nil
	}
	r := &PendingReport{State: PendingWaiting, Pending: p, Left: p.Deadline.Sub(e.Clock.Now())}
	switch {
	case r.Left < -OverdueGrace:
		r.State = PendingOverdue
	case !e.reverterAlive(p):
		r.State = PendingOrphaned
	}
	return r
}

// String says, for people, how the confirmation stands and what happens.
func (r *PendingReport) String() string {
	if r.State == PendingUnreadable {
		return fmt.Sprintf("UNREADABLE pending confirmation: %s; its reverter reverts at the deadline by its own record, or run leash confirm to keep the generation in force", r.Error)
	}
	p := r.Pending
	back := "remove table inet leash"
	if p.Previous > 0 {
		back = fmt.Sprintf("revert to generation %d", p.Previous)
	}
	switch r.State {
	case PendingOverdue:
		return fmt.Sprintf("OVERDUE: generation %d was to %s at %s unless confirmed, and was not (its reverter, pid %d, failed or is stuck); the next leash command that takes the lock reverts it", p.Generation, back, FormatTime(p.Deadline), p.ReverterPID)
	case PendingOrphaned:
		return fmt.Sprintf("ORPHANED: generation %d is to %s at %s unless confirmed, but its reverter (pid %d) is gone; the next leash command that takes the lock starts another (leash confirm keeps the generation)", p.Generation, back, FormatTime(p.Deadline), p.ReverterPID)
	}
	return fmt.Sprintf("pending: generation %d is to %s at %s (in %s) unless confirmed with leash confirm", p.Generation, back, FormatTime(p.Deadline), r.Left.Round(time.Second))
}

// reverterAlive reports whether p's reverter runs (true when the engine
// cannot tell).
func (e *Engine) reverterAlive(p *state.Pending) bool {
	return e.ReverterAlive == nil || e.ReverterAlive(p.ReverterPID)
}

// settlePending runs under the lock before every command: a confirmation
// whose deadline passed more than OverdueGrace ago is reverted now (its
// reverter died or is stuck), and one whose reverter is gone gets a new
// reverter. What it does is said through Notify; it never fails the
// command.
func (e *Engine) settlePending() {
	p, err := e.Store.Pending()
	var ce *state.CorruptError
	switch {
	case errors.As(err, &ce):
		e.warn("%v: the pending confirmation cannot be read; its reverter reverts by its own record at the deadline, or run %s to keep the generation in force", ce, e.command("confirm"))
		return
	case err != nil || p == nil:
		return
	}
	if late := e.Clock.Now().Sub(p.Deadline); late > OverdueGrace {
		e.revertOverdue(p, late)
		return
	}
	if e.reverterAlive(p) || e.StartReverter == nil {
		return
	}
	old := p.ReverterPID
	pid, err := e.StartReverter(p)
	if err != nil {
		e.warn("the reverter of generation %d (pid %d) is gone, and starting another failed: %v; the next leash command that takes the lock after %s reverts it", p.Generation, old, err, FormatTime(p.Deadline))
		return
	}
	p.ReverterPID = pid
	if err := e.Store.SetPending(p); err != nil {
		e.warn("%v", err)
	}
	e.notify("the reverter of generation %d (pid %d) was gone; started another (pid %d), which reverts at %s unless confirmed", p.Generation, old, pid, FormatTime(p.Deadline))
}

// revertOverdue reverts p, late past its deadline.
func (e *Engine) revertOverdue(p *state.Pending, late time.Duration) {
	k, err := e.kernel()
	if err != nil {
		e.warn("generation %d is overdue for its automatic revert, and reverting it failed: %v", p.Generation, err)
		return
	}
	defer k.Close()
	note := fmt.Sprintf("overdue revert of %d (%s; its reverter had not reverted it %s after the deadline)", p.Generation, notConfirmed(p), late.Round(time.Second))
	id, err := e.revertPending(k, p, note)
	if err != nil {
		e.warn("%v", err)
		return
	}
	e.notify("%s: %s, recorded as generation %d", note, RevertedTo(p), id)
}
