package cli

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/engine"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/termtext"
)

func planCmd(d Deps, g *globals) *cobra.Command {
	var strict bool
	cmd := &cobra.Command{
		Use:   "plan FILE",
		Short: "Show what apply would change in the kernel",
		Long: `Compile FILE and compare it with leash's table in the kernel now. Prints
what every hostname resolved to, then a diff of the table (nft syntax,
counters left out), then the other firewalls' base chains on the same hooks
(which may still drop what leash allows). Changes nothing.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := loadPolicy(cmd.Context(), d, g, args[0])
			if err != nil {
				return err
			}
			if err := reportWarnings(d, c, strict); err != nil {
				return err
			}
			e := engineFor(cmd, d, g, args)
			cur, delta, err := e.Plan(c)
			if err != nil {
				return err
			}
			if err := printPlan(d, g, c, cur, delta); err != nil || g.json {
				return err
			}
			if o, err := e.Others(); err == nil {
				printOthers(d.Stdout, o)
			}
			return nil
		},
	}
	strictFlag(cmd, &strict)
	return cmd
}

type planJSON struct {
	File    string                  `json:"file"`
	Hosts   map[string][]netip.Addr `json:"hosts,omitempty"`
	Exists  bool                    `json:"table_exists"`
	Changed bool                    `json:"changed"`
	Diff    string                  `json:"diff,omitempty"`
	// Warnings about the policy (see leash lint).
	Warnings []policy.Warning `json:"warnings,omitempty"`
}

func printPlan(d Deps, g *globals, c *engine.Compiled, cur *ruleset.Ruleset, delta string) error {
	if g.json {
		return printJSON(d.Stdout, planJSON{File: c.Path, Hosts: c.Resolved.Hosts, Exists: cur != nil, Changed: delta != "", Diff: delta, Warnings: c.Warnings()})
	}
	printHosts(d, c)
	switch {
	case cur == nil:
		fmt.Fprintf(d.Stdout, "table inet %s does not exist; apply would create it:\n%s", ruleset.TableName, delta)
	case delta == "":
		fmt.Fprintf(d.Stdout, "No changes: the kernel already enforces %s.\n", termtext.Escape(c.Path))
	default:
		fmt.Fprintf(d.Stdout, "apply would change table inet %s:\n%s", ruleset.TableName, delta)
	}
	return nil
}

func printHosts(d Deps, c *engine.Compiled) {
	if len(c.Resolved.Hosts) == 0 {
		return
	}
	names := make([]string, 0, len(c.Resolved.Hosts))
	for n := range c.Resolved.Hosts {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(d.Stdout, "Hostnames, resolved now:")
	for _, n := range names {
		var addrs []string
		for _, a := range c.Resolved.Hosts[n] {
			addrs = append(addrs, a.String())
		}
		fmt.Fprintf(d.Stdout, "  %s -> %s\n", termtext.Escape(n), strings.Join(addrs, ", "))
	}
}
