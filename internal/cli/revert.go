package cli

import (
	"context"
	"errors"
	"fmt"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/engine"
	"github.com/leash-dev/leash/internal/localapi"
)

// revertPendingName is the reverter's hidden command, also how a running
// reverter is recognised in /proc.
const revertPendingName = "revert-pending"

func revertPendingCmd(d Deps, g *globals) *cobra.Command {
	var (
		gen, previous int
		deadline      string
	)
	cmd := &cobra.Command{
		Use:   revertPendingName + " --generation N --previous M --deadline TIME",
		Short: "The detached reverter started by apply --confirm",
		Long: `Wait until TIME (on the monotonic clock); if generation N is then still
awaiting confirmation, re-apply generation M's stored ruleset (M 0: remove
the table), record that as a new generation and clear the pending record.
Exits early once N is confirmed or superseded. A failed revert is retried
until it succeeds; SIGTERM, SIGINT and SIGHUP do not stop it (SIGKILL does:
then the next leash command that takes the lock reverts an overdue
generation). Logs to stderr (the state directory's revert.log when started
by apply).`,
		Hidden: true,
		Args:   usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			dl, err := time.Parse(time.RFC3339Nano, deadline)
			if err != nil || gen <= 0 || previous < 0 || previous >= gen {
				return usage("revert-pending: need --generation N, --previous M (0 <= M < N) and --deadline in RFC 3339")
			}
			// The reverter outlives the session that started it: a logout
			// (SIGHUP), logind's cleanup of the session (SIGTERM) or a
			// stray Ctrl-C must not cancel the revert. Only SIGKILL ends
			// it; then the next leash command that takes the lock starts
			// another reverter or performs the overdue revert.
			signal.Ignore(syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
			ctx := context.WithoutCancel(cmd.Context())
			logf := func(format string, a ...any) {
				fmt.Fprintf(d.Stderr, "%s leash revert-pending: generation %d: %s\n", d.Clock.Now().UTC().Format(time.RFC3339), gen, fmt.Sprintf(format, a...))
			}
			target := engine.RevertTarget{Generation: gen, Previous: previous, Deadline: dl}
			err = revertThrough(ctx, cmd, d, g, target, logf)
			if err != nil {
				logf("FAILED: %v", err)
			}
			return err
		},
	}
	decimalVar(cmd.Flags(), &gen, "generation", 0, 1<<31-1, "the generation awaiting confirmation")
	decimalVar(cmd.Flags(), &previous, "previous", -1, 1<<31-1, "the generation a revert re-applies (0: remove the table)")
	cmd.Flags().StringVar(&deadline, "deadline", "", "when to revert (RFC 3339)")
	return cmd
}

// revertThrough waits and reverts through the daemon while one runs (it
// owns the table), else directly; if the daemon goes away during the wait,
// the reverter carries on (directly, or through the next daemon), a
// bounded number of times: the deadline is absolute, so each attempt
// waits only for what is left of it.
func revertThrough(ctx context.Context, cmd *cobra.Command, d Deps, g *globals, t engine.RevertTarget, logf func(string, ...any)) error {
	const attempts = 10
	for i := 1; ; i++ {
		ctl, err := controlFor(cmd, d, g, nil)
		if err == nil {
			if _, ok := ctl.(*localapi.Client); ok {
				logf("leash daemon runs: it waits for the deadline and reverts")
			}
			_, err = ctl.RevertPending(ctx, t, logf)
		}
		if err == nil || !errors.Is(err, localapi.ErrDaemonGone) || i == attempts {
			return err
		}
		logf("%v; carrying on", err)
		select {
		case <-d.Clock.After(time.Second):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
