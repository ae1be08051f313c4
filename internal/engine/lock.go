package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/leash-dev/leash/internal/state"
)

// lockMode says who takes the lock, which decides what is settled first.
type lockMode int

const (
	// asCommand: recover an interrupted change, then settle the pending
	// confirmation (an overdue one is reverted, a dead reverter replaced).
	asCommand lockMode = iota
	// atBoot (restore): recover without asking the kernel; restore deals
	// with a pending confirmation itself.
	atBoot
	// asReverter: recover; the reverter deals with the confirmation.
	asReverter
)

// lock is lockAs for a command.
func (e *Engine) lock(ctx context.Context, boot bool) (*state.Lock, error) {
	if boot {
		return e.lockAs(ctx, atBoot)
	}
	return e.lockAs(ctx, asCommand)
}

// lockAs takes the state directory's exclusive lock, so that two leash
// processes never change the kernel table or the state at once. While
// another leash holds it, Notify says whom it waits for, for up to
// LockTimeout. Then it finishes the record of a change an earlier leash was
// killed in the middle of (recover) and, for a command, settles a pending
// confirmation (settlePending), so that the operation starts from a state
// that agrees with the kernel. The caller must Unlock.
func (e *Engine) lockAs(ctx context.Context, mode lockMode) (*state.Lock, error) {
	l, err := e.Store.Lock(ctx, state.LockOptions{
		Holder:  state.Holder{Command: e.Holder, Since: e.Clock.Now()},
		Timeout: e.LockTimeout,
		Waiting: func(path string, other state.Holder) {
			e.notify("waiting for another leash (%s) holding %s", other, path)
		},
	})
	var le *state.LockedError
	switch {
	case errors.As(err, &le):
		return nil, fmt.Errorf("%w: let it finish, or wait longer with --lock-timeout", err)
	case err != nil && ctx.Err() != nil:
		return nil, interrupted(ctx)
	case err != nil:
		return nil, err
	}
	if err := e.checkNamespace(); err != nil {
		l.Unlock()
		return nil, err
	}
	if err := e.recover(mode == atBoot); err != nil {
		l.Unlock()
		return nil, err
	}
	if mode == asCommand {
		e.settlePending()
	}
	return l, nil
}
