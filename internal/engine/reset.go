package engine

import (
	"context"
	"fmt"

	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/state"
)

// Reset removes leash's table, and only it. Once leash has applied
// something, and unless the current generation already has no table, the
// removal is recorded (in two phases) as a generation without a table, so
// that a restart does not bring the old table back; the generation's
// number is returned (0 when nothing was recorded). A pending confirmation
// is dropped either way. Idempotent.
func (e *Engine) Reset(ctx context.Context) (int, error) {
	var id int
	err := e.locked(ctx, false, func(k Kernel) (err error) {
		id, err = e.reset(ctx, k)
		return err
	})
	return id, err
}

func (e *Engine) reset(ctx context.Context, k Kernel) (int, error) {
	refused := func(err error) error { return fmt.Errorf("remove table inet %s: %w", ruleset.TableName, err) }
	ids, err := e.Store.IDs()
	if err != nil {
		return 0, err
	}
	if cur, err := e.Store.Current(); len(ids) == 0 || (err == nil && cur.Ruleset == nil) {
		if err := k.Reset(); err != nil {
			return 0, refused(err)
		}
		if len(ids) == 0 {
			return 0, nil
		}
		return 0, e.Store.ClearPending() // a corrupt record too
	}
	id, err := e.replay(ctx, k, nil, state.Meta{Action: state.ActionReset, Note: "reset: table removed"},
		fmt.Sprintf("the removal of table inet %s", ruleset.TableName), refused)
	if err != nil {
		return id, err
	}
	e.prune()
	return id, nil
}
