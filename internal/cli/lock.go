package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/state"
	"github.com/leash-dev/leash/internal/termtext"
)

// lockState takes the state directory's exclusive lock for cmd, so that two
// leash processes never change the kernel table or the state at once. While
// another leash holds it, it says on stderr whom it waits for, for up to
// --lock-timeout. Then it finishes the record of a change an earlier leash
// was killed in the middle of (recoverInterrupted), so that the command
// starts from a state that agrees with the kernel. The caller must Unlock.
func lockState(cmd *cobra.Command, d Deps, g *globals, args []string) (*state.Lock, error) {
	return lockAndRecover(cmd, d, g, args, false)
}

// lockAndRecover is lockState; atBoot is for leash restore (see
// recoverInterrupted).
func lockAndRecover(cmd *cobra.Command, d Deps, g *globals, args []string, atBoot bool) (*state.Lock, error) {
	l, err := takeLock(cmd, d, g, args)
	if err != nil {
		return nil, err
	}
	if err := recoverInterrupted(d, g, g.store(), atBoot); err != nil {
		l.Unlock()
		return nil, err
	}
	return l, nil
}

// withLockedKernel is the preamble of the commands that change the kernel
// table (apply, reset, rollback, restore): it takes the lock and finishes
// an interrupted change (lockAndRecover), opens the kernel (openKernel),
// runs change, then closes the kernel and unlocks.
func withLockedKernel(cmd *cobra.Command, d Deps, g *globals, args []string, atBoot bool, change func(k Kernel) error) error {
	lk, err := lockAndRecover(cmd, d, g, args, atBoot)
	if err != nil {
		return err
	}
	defer lk.Unlock()
	k, err := openKernel(d, g)
	if err != nil {
		return err
	}
	defer k.Close()
	return change(k)
}

// takeLock takes the lock, waiting up to --lock-timeout.
func takeLock(cmd *cobra.Command, d Deps, g *globals, args []string) (*state.Lock, error) {
	command := strings.Join(append([]string{cmd.CommandPath()}, args...), " ")
	l, err := g.store().Lock(cmd.Context(), state.LockOptions{
		Holder:  state.Holder{Command: command, Since: d.Clock()},
		Timeout: g.lockTimeout,
		Waiting: func(path string, other state.Holder) {
			fmt.Fprintf(d.Stderr, "leash: waiting for another leash (%s) holding %s\n", termtext.Escape(other.String()), termtext.Escape(path))
		},
	})
	var le *state.LockedError
	if errors.As(err, &le) {
		return nil, fmt.Errorf("%w: let it finish, or wait longer with --lock-timeout", err)
	}
	return l, err
}
