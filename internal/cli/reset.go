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
other tables alone. Other tables are never touched. Idempotent.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := openKernel(d, g)
			if err != nil {
				return err
			}
			defer k.Close()
			if err := k.Reset(); err != nil {
				return fmt.Errorf("remove table inet %s: %w", ruleset.TableName, err)
			}
			if g.json {
				return printJSON(d.Stdout, struct {
					Reset bool `json:"reset"`
				}{true})
			}
			fmt.Fprintf(d.Stdout, "table inet %s removed; leash enforces nothing now.\n", ruleset.TableName)
			return nil
		},
	}
}
