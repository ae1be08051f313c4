package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

func revertPendingCmd(d Deps, g *globals) *cobra.Command {
	var (
		gen      int
		deadline string
	)
	cmd := &cobra.Command{
		Use:   "revert-pending --generation N --deadline TIME",
		Short: "The detached reverter started by apply --confirm",
		Long: `Wait until TIME; if generation N is then still awaiting confirmation,
re-apply the previous generation's stored ruleset (or remove the table if
there was none), record that as a new generation and clear the pending
record. Exits early once N is confirmed or superseded. Logs to stderr
(the state directory's revert.log when started by apply).`,
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dl, err := time.Parse(time.RFC3339Nano, deadline)
			if err != nil || gen <= 0 {
				return usage("revert-pending: need --generation N and --deadline in RFC 3339")
			}
			logf := func(format string, a ...any) {
				fmt.Fprintf(d.Stderr, "%s leash revert-pending: generation %d: %s\n", d.Clock.Now().UTC().Format(time.RFC3339), gen, fmt.Sprintf(format, a...))
			}
			_, err = engineFor(cmd, d, g, nil).RevertPending(cmd.Context(), gen, dl, logf)
			if err != nil {
				logf("FAILED: %v", err)
			}
			return err
		},
	}
	cmd.Flags().IntVar(&gen, "generation", 0, "the generation awaiting confirmation")
	cmd.Flags().StringVar(&deadline, "deadline", "", "when to revert (RFC 3339)")
	return cmd
}
