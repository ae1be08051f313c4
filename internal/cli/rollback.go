package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/decimal"
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
				n, err := decimal.Parse(args[0])
				switch {
				case decimal.Spelling(err):
					return usage("rollback %s: %v", args[0], err)
				case err != nil || n == 0 || n > 1<<31-1:
					return usage("rollback %q: give a generation number (see leash history)", args[0])
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
