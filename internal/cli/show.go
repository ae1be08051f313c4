package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/ruleset"
)

func showCmd(d Deps, g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show",
		Short: "Print leash's table as it is in the kernel now, with counters",
		Long: `Read table inet leash from the kernel over netlink and print it in nft
syntax with every rule's packet and byte counters. Where the rule comes from
the last applied policy, its source line is shown above it.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			rs, err := engineFor(cmd, d, g, args).Table()
			if err != nil {
				return err
			}
			if rs == nil {
				if g.json {
					return printJSON(d.Stdout, nil)
				}
				fmt.Fprintf(d.Stdout, "table inet %s does not exist: leash enforces nothing here.\n", ruleset.TableName)
				return nil
			}
			if g.json {
				return printJSON(d.Stdout, rs)
			}
			fmt.Fprint(d.Stdout, ruleset.Text(rs, ruleset.TextOptions{Counters: true, Sources: true}))
			return nil
		},
	}
}
