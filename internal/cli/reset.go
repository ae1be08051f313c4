package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/ruleset"
)

func resetCmd(d Deps, g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "reset",
		Short: "Remove leash's table (and nothing else)",
		Long: `Delete table inet leash. Every connection is then governed by the host's
other tables alone. Other tables are never touched. Idempotent. Once
leash has applied something, the reset is recorded as a generation without
a table (so a restart does not bring the old table back) and a pending
confirmation is dropped.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctl, err := controlFor(cmd, d, g, args)
			if err != nil {
				return err
			}
			id, err := ctl.Reset(cmd.Context())
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(d.Stdout, struct {
					Reset      bool `json:"reset"`
					Generation int  `json:"generation,omitempty"`
				}{true, id})
			}
			fmt.Fprintf(d.Stdout, "table inet %s removed; leash enforces nothing now.\n", ruleset.TableName)
			return nil
		},
	}
}
