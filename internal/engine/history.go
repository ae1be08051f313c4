package engine

import (
	"errors"
	"fmt"

	"github.com/leash-dev/leash/internal/state"
)

// History is the stored generations as readers show them.
type History struct {
	Entries []state.Entry
	// Current is the generation in force (0: none), counting a change a
	// killed leash left half-recorded as the next locked command will.
	Current int
	// CurrentErr says why `current` could not be read (nil: it could, or
	// nothing was applied).
	CurrentErr error
	// Interrupted is a change not recorded as done.
	Interrupted *Interrupted
	// Pending is the confirmation awaited, if any.
	Pending *PendingReport
}

// History lists the stored generations, oldest first, with the current
// one, a pending confirmation and an interrupted change. It never writes.
func (e *Engine) History() (*History, error) {
	entries, err := e.Store.History()
	if err != nil {
		return nil, err
	}
	h := &History{Entries: entries, Pending: e.Pending()}
	h.Current, err = e.Store.CurrentID()
	if err != nil && !errors.Is(err, state.ErrNone) {
		h.CurrentErr = err
	}
	gen, intr, _ := e.View()
	h.Interrupted = intr
	if intr != nil && intr.Outcome == state.RolledForward && gen != nil {
		h.Current = gen.ID
	}
	return h, nil
}

// Healthy reports whether nothing in h needs the admin: no pending
// confirmation that is overdue, orphaned or unreadable.
func (h *History) Healthy() error {
	if h.Pending == nil || h.Pending.State == PendingWaiting {
		return nil
	}
	return fmt.Errorf("the pending confirmation is %s", h.Pending.State)
}
