package cli

import (
	"cmp"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/termtext"
)

func rollbackCmd(d Deps, g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "rollback [N]",
		Short: "Re-apply a stored generation (default: the one before the current)",
		Long: `Load generation N's stored compiled ruleset into the kernel, atomically,
and record that as a new generation ("rollback to N"): history is a log,
never rewritten. No policy file, DNS or user database is consulted: the
kernel gets exactly the table generation N had. Without N, the generation
before the current one. A pending confirmation is dropped. See leash history.`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			target := 0
			if len(args) == 1 {
				n, err := decimalUpTo(args[0], 1<<31-1)
				if err != nil || n == 0 {
					return usage("rollback %s: give a generation number (see leash history): %v", termtext.Escape(args[0]), cmp.Or(err, errors.New("generations start at 1")))
				}
				target = int(n)
			}
			ctl, err := controlFor(cmd, d, g, args)
			if err != nil {
				return err
			}
			res, err := ctl.Rollback(cmd.Context(), target)
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(d.Stdout, struct {
					RolledBackTo int `json:"rolled_back_to"`
					Generation   int `json:"generation"`
					Dropped      int `json:"dropped_pending,omitempty"`
				}{res.Target.ID, res.Generation, res.DroppedPending})
			}
			fmt.Fprintf(d.Stdout, "rolled back to %s, applied %s: now generation %d\n", describe(*res.Target), stamp(res.Target.Time), res.Generation)
			if res.DroppedPending != 0 {
				fmt.Fprintf(d.Stdout, "generation %d was awaiting confirmation; the rollback replaces it, so nothing will be reverted.\n", res.DroppedPending)
			}
			return nil
		},
	}
}
