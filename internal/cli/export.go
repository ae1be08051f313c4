package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/termtext"
)

func exportCmd(d Deps, g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "export FILE",
		Short: "Print the compiled ruleset as nft -f input, without touching the kernel",
		Long: `Compile FILE and print the table leash would load, in nft syntax, with
a comment naming the policy line above every rule. The output can be loaded
with 'nft -f' (for review or for hosts without leash). --json prints leash's
ruleset model instead.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := loadPolicy(cmd.Context(), d, g, args[0])
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(d.Stdout, c.Ruleset)
			}
			fmt.Fprintf(d.Stdout, "# Compiled by leash from %s. Load with: nft -f FILE\n", termtext.Escape(args[0]))
			fmt.Fprintf(d.Stdout, "# Replaces only table inet %s.\n", ruleset.TableName)
			fmt.Fprintf(d.Stdout, "table inet %s\ndelete table inet %s\n", ruleset.TableName, ruleset.TableName)
			fmt.Fprint(d.Stdout, ruleset.Text(c.Ruleset, ruleset.TextOptions{Sources: true}))
			return nil
		},
	}
}
