package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/state"
)

func showCmd(d Deps, g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show",
		Short: "Print leash's table as it is in the kernel now, with counters",
		Long: `Read table inet leash from the kernel over netlink and print it in nft
syntax with every rule's packet and byte counters. Where the rule comes from
the last applied policy, its source line is shown above it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := openKernel(d, g)
			if err != nil {
				return err
			}
			defer k.Close()
			rs, err := k.Read()
			if err != nil {
				return fmt.Errorf("read table inet %s: %w", ruleset.TableName, err)
			}
			if rs == nil {
				if g.json {
					return printJSON(d.Stdout, nil)
				}
				fmt.Fprintf(d.Stdout, "table inet %s does not exist: leash enforces nothing here.\n", ruleset.TableName)
				return nil
			}
			if gen, _, err := viewCurrent(d, g, g.store()); err == nil {
				annotate(rs, gen)
			}
			if g.json {
				return printJSON(d.Stdout, rs)
			}
			fmt.Fprint(d.Stdout, ruleset.Text(rs, ruleset.TextOptions{Counters: true, Sources: true}))
			return nil
		},
	}
}

// annotate copies policy origins (file, line, source text) from gen, the
// generation in force (viewCurrent), onto the kernel's rules with the same
// comment id. Rules the generation does not know keep only their comment.
func annotate(rs *ruleset.Ruleset, gen *state.Generation) {
	if gen == nil || gen.Ruleset == nil {
		return
	}
	known := map[string]ruleset.Origin{}
	for _, c := range gen.Ruleset.Chains {
		for _, r := range c.Rules {
			known[r.Origin.ID] = r.Origin
		}
	}
	for _, c := range rs.Chains {
		for _, r := range c.Rules {
			if o, ok := known[r.Origin.ID]; ok {
				r.Origin = o
			}
		}
	}
}
