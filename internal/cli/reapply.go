package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/engine"
	"github.com/leash-dev/leash/internal/state"
	"github.com/leash-dev/leash/internal/termtext"
)

func reapplyCmd(d Deps, g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "reapply",
		Short: "Recompile the current policy with today's users, groups and hostnames",
		Long: `Recompile the current generation's stored policy (its policy.yaml, not the
file on disk) with the user database and DNS as they are now. If the
compiled table differs from the stored one (group membership changed, a
user was added, a hostname moved), apply it and record a new generation
("reapply of N"), printing the difference; otherwise change nothing.
Run by leash-reapply.path when /etc/passwd or /etc/group change, and by
the optional leash-reapply.timer. A pending confirmation stays pending:
its revert still goes back to the last confirmed generation. If the policy
no longer resolves (a user it names was deleted), nothing changes and the
errors are printed (exit 2). While leash daemon runs, it does the reapply
with its own users, groups and resolver (the ones it watches; --passwd and
--group of this command are not used).`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctl, err := controlFor(cmd, d, g, args)
			if err != nil {
				return err
			}
			res, err := ctl.Reapply(cmd.Context(), func(ctx context.Context, cur *state.Generation) (*engine.Compiled, error) {
				return compileSource(ctx, d, g, cur.PolicyFile, cur.Policy)
			})
			if res != nil && res.Nothing != "" {
				fmt.Fprintf(d.Stdout, "nothing to reapply: %s\n", termtext.Escape(res.Nothing))
			}
			if err != nil || res.Nothing != "" {
				return err
			}
			return printReapply(d, g, res)
		},
	}
}

func printReapply(d Deps, g *globals, res *engine.ReapplyResult) error {
	if !res.Changed {
		if g.json {
			return printJSON(d.Stdout, res)
		}
		fmt.Fprintf(d.Stdout, "no change: %s compiles to the same table with today's users, groups and hostnames\n", describe(*res.Source))
		return nil
	}
	if g.json {
		return printJSON(d.Stdout, struct {
			Changed    bool   `json:"changed"`
			Generation int    `json:"generation"`
			Source     int    `json:"source"`
			Diff       string `json:"diff"`
		}{true, res.Generation, res.Source.ID, res.Diff})
	}
	fmt.Fprintf(d.Stdout, "reapplied generation %d's policy %s as generation %d: %s\nChanges:\n%s",
		res.Source.ID, termtext.Escape(res.Source.PolicyFile), res.Generation, res.Summary, res.Diff)
	return nil
}
