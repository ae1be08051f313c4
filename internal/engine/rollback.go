package engine

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/state"
)

// RollbackResult is what Rollback did.
type RollbackResult struct {
	// Target is the generation whose table was re-applied.
	Target *state.Meta `json:"-"`
	// Generation records the rollback.
	Generation int `json:"generation"`
	// DroppedPending is the generation that was awaiting confirmation and
	// that the rollback replaced (0: none).
	DroppedPending int `json:"dropped_pending,omitempty"`
}

// Rollback re-applies generation target's stored ruleset (0: the
// generation before the current one) and records that as a new generation
// ("rollback to N"): history is never rewritten. No policy, DNS or user
// database is consulted. A pending confirmation is dropped. Atomic.
func (e *Engine) Rollback(ctx context.Context, target int) (*RollbackResult, error) {
	var res *RollbackResult
	err := e.locked(ctx, false, func(k Kernel) (err error) {
		res, err = e.rollbackTo(ctx, k, target)
		return err
	})
	return res, err
}

func (e *Engine) rollbackTo(ctx context.Context, k Kernel, target int) (*RollbackResult, error) {
	if target == 0 {
		var err error
		if target, err = e.previousID(); err != nil {
			return nil, err
		}
	}
	gen, err := e.loadIntact(target)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("generation %d does not exist in %s; see leash history", target, e.Store.Dir)
	case err != nil:
		return nil, fmt.Errorf("generation %d cannot be used: %w; pick another (leash history)", target, err)
	}
	dropped := e.pendingGeneration()
	id, err := e.replay(ctx, k, gen, state.Meta{Action: state.ActionRollback, Note: fmt.Sprintf("rollback to %d", target)},
		fmt.Sprintf("generation %d's table", target), func(err error) error {
			return fmt.Errorf("rollback to %d: the kernel refused table inet %s, nothing changed: %w", target, ruleset.TableName, err)
		})
	if err != nil {
		return nil, err
	}
	e.prune()
	return &RollbackResult{Target: &gen.Meta, Generation: id, DroppedPending: dropped}, nil
}

// previousID is the generation before the current one in the log.
func (e *Engine) previousID() (int, error) {
	cur, err := e.Store.CurrentID()
	if errors.Is(err, state.ErrNone) {
		return 0, fmt.Errorf("nothing was applied yet: there is nothing to roll back to")
	}
	if err != nil {
		return 0, fmt.Errorf("%w; name the generation to roll back to: leash rollback N (see leash history)", err)
	}
	ids, err := e.Store.IDs()
	if err != nil {
		return 0, err
	}
	prev := 0
	for _, id := range ids {
		if id < cur {
			prev = id
		}
	}
	if prev == 0 {
		return 0, fmt.Errorf("generation %d is the oldest stored: there is nothing before it (leash reset removes the table)", cur)
	}
	return prev, nil
}
