package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/state"
)

// lockState takes the state directory's exclusive lock for cmd, so that two
// leash processes never change the kernel table or the state at once. While
// another leash holds it, it says on stderr whom it waits for, for up to
// --lock-timeout. The caller must Unlock.
func lockState(cmd *cobra.Command, d Deps, g *globals, args []string) (*state.Lock, error) {
	command := strings.Join(append([]string{cmd.CommandPath()}, args...), " ")
	l, err := g.store().Lock(cmd.Context(), state.LockOptions{
		Holder:  state.Holder{Command: command, Since: d.Clock()},
		Timeout: g.lockTimeout,
		Waiting: func(path string, other state.Holder) {
			fmt.Fprintf(d.Stderr, "leash: waiting for another leash (%s) holding %s\n", other, path)
		},
	})
	var le *state.LockedError
	if errors.As(err, &le) {
		return nil, fmt.Errorf("%w: let it finish, or wait longer with --lock-timeout", err)
	}
	return l, err
}
