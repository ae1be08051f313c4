package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/leash-dev/leash/internal/state"
)

// lock takes the state directory's exclusive lock, so that two leash
// processes never change the kernel table or the state at once. While
// another leash holds it, Notify says whom it waits for, for up to
// LockTimeout. Then it finishes the record of a change an earlier leash was
// killed in the middle of (recover), so that the operation starts from a
// state that agrees with the kernel. The caller must Unlock.
func (e *Engine) lock(ctx context.Context, atBoot bool) (*state.Lock, error) {
	l, err := e.Store.Lock(ctx, state.LockOptions{
		Holder:  state.Holder{Command: e.Holder, Since: e.Clock.Now()},
		Timeout: e.LockTimeout,
		Waiting: func(path string, other state.Holder) {
			e.notify("waiting for another leash (%s) holding %s", other, path)
		},
	})
	var le *state.LockedError
	if errors.As(err, &le) {
		return nil, fmt.Errorf("%w: let it finish, or wait longer with --lock-timeout", err)
	}
	if err != nil {
		return nil, err
	}
	if err := e.recover(atBoot); err != nil {
		l.Unlock()
		return nil, err
	}
	return l, nil
}
