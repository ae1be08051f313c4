package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/leash-dev/leash/internal/state"
)

// ConfirmResult is what Confirm did.
type ConfirmResult struct {
	// Confirmed is the generation that stays in force (0 with Corrupt).
	Confirmed int `json:"confirmed"`
	// Pending is the confirmation that was cancelled.
	Pending *state.Pending `json:"-"`
	// Late says the deadline had passed but the revert had not happened.
	Late bool `json:"-"`
	// Corrupt is set when the pending record was unreadable and was
	// removed: the generation in force stays, nothing will be reverted.
	Corrupt error `json:"-"`
}

// ErrNothingPending is wrapped by Confirm's error when no confirmation is
// pending.
var ErrNothingPending = errors.New("nothing is pending confirmation")

// Confirm keeps the generation applied with a confirmation window: the
// pending record is removed, so the reverter finds nothing to do. Under the
// lock. When nothing is pending the error wraps ErrNothingPending and says
// whether an automatic revert already happened.
func (e *Engine) Confirm(ctx context.Context) (*ConfirmResult, error) {
	lk, err := e.lock(ctx, false)
	if err != nil {
		return nil, err
	}
	defer lk.Unlock()
	p, err := e.Store.Pending()
	var ce *state.CorruptError
	if errors.As(err, &ce) {
		if err := e.Store.ClearPending(); err != nil {
			return nil, err
		}
		return &ConfirmResult{Corrupt: ce}, nil
	}
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, e.nothingPending()
	}
	if err := e.Store.ClearPending(); err != nil {
		return nil, err
	}
	return &ConfirmResult{Confirmed: p.Generation, Pending: p, Late: e.Clock.Now().After(p.Deadline)}, nil
}

// nothingPending explains why there is nothing to confirm, naming the
// automatic revert if that is what happened last.
func (e *Engine) nothingPending() error {
	cur, err := e.Store.Current()
	if err == nil && cur.Reverts > 0 && (cur.What() == state.ActionRevert || cur.What() == state.ActionEmergency) {
		now := "no table"
		switch {
		case cur.What() == state.ActionEmergency:
			now = "the EMERGENCY table"
		case cur.Source > 0:
			now = fmt.Sprintf("generation %d's table", cur.Source)
		}
		return fmt.Errorf("%w: generation %d was not confirmed in time and was reverted at %s; generation %d enforces %s. Apply it again to retry",
			ErrNothingPending, cur.Reverts, FormatTime(cur.Time), cur.ID, now)
	}
	return fmt.Errorf("%w (leash apply --confirm DURATION FILE applies with a confirmation window)", ErrNothingPending)
}
