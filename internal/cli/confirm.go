package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/termtext"
)

func confirmCmd(d Deps, g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "confirm",
		Short: "Keep the generation applied with --confirm (cancel the automatic revert)",
		Long: `Confirm the generation applied with leash apply --confirm: it stays in
force and the automatic revert is cancelled. Exit status 1 if nothing is
pending, saying so, or saying when the automatic revert already happened.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctl, err := controlFor(cmd, d, g, args)
			if err != nil {
				return err
			}
			res, err := ctl.Confirm(cmd.Context())
			if err != nil {
				return err
			}
			if res.Corrupt != nil {
				fmt.Fprintf(d.Stdout, "%s\nremoved it: the generation in force stays, and no automatic revert will happen.\n", termtext.Escape(res.Corrupt.Error()))
				return nil
			}
			if g.json {
				return printJSON(d.Stdout, res)
			}
			late := ""
			if res.Late {
				late = " (its deadline has passed, but the revert had not happened yet)"
			}
			fmt.Fprintf(d.Stdout, "generation %d confirmed: it stays in force; the automatic revert due at %s is cancelled%s.\n", res.Confirmed, stamp(res.Pending.Deadline), late)
			return nil
		},
	}
}
