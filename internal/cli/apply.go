package cli

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/state"
)

func applyCmd(d Deps, g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "apply FILE",
		Short: "Enforce a policy: replace leash's table atomically",
		Long: `Validate and compile FILE, then replace table inet leash in one netlink
transaction: packets see either the old table or the new one, never a mix
and never no table. If anything is wrong with FILE, or the kernel refuses
the table, nothing changes. Other tables are never touched. Idempotent.
The applied policy is stored as a new generation under --state-dir.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := loadPolicy(cmd.Context(), d, g, args[0])
			if err != nil {
				return err
			}
			k, err := openKernel(d, g)
			if err != nil {
				return err
			}
			defer k.Close()
			if err := k.Apply(c.rs); err != nil {
				return fmt.Errorf("apply %s: the kernel refused table inet %s, nothing changed: %w", args[0], ruleset.TableName, err)
			}
			id, err := saveGeneration(d, g, c)
			if err != nil {
				return fmt.Errorf("%s is enforced, but recording it failed: %w", args[0], err)
			}
			s := summarize(c)
			if g.json {
				return printJSON(d.Stdout, struct {
					Applied    bool `json:"applied"`
					Generation int  `json:"generation"`
					summary
				}{true, id, s})
			}
			fmt.Fprintf(d.Stdout, "applied %s (generation %d): %s\n", args[0], id, s)
			return nil
		},
	}
}

func saveGeneration(d Deps, g *globals, c *compiled) (int, error) {
	abs, err := filepath.Abs(c.path)
	if err != nil {
		abs = c.path
	}
	hosts := map[string][]string{}
	for n, addrs := range c.resolved.Hosts {
		for _, a := range addrs {
			hosts[n] = append(hosts[n], a.String())
		}
	}
	return g.store().Save(&state.Generation{Meta: state.Meta{Time: d.Now().UTC(), PolicyFile: abs, Action: state.ActionApply, Summary: summarize(c).String()}, Ruleset: c.rs, Hosts: hosts, Policy: c.src})
}
