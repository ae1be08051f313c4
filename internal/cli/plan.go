package cli

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/drift"
	"github.com/leash-dev/leash/internal/ruleset"
)

func planCmd(d Deps, g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "plan FILE",
		Short: "Show what apply would change in the kernel",
		Long: `Compile FILE and compare it with leash's table in the kernel now. Prints
what every hostname resolved to, then a diff of the table (nft syntax,
counters left out). Changes nothing.`,
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
			cur, err := k.Read()
			if err != nil {
				return fmt.Errorf("read table inet %s: %w", ruleset.TableName, err)
			}
			return printPlan(d, g, c, cur)
		},
	}
}

type planJSON struct {
	File    string                  `json:"file"`
	Hosts   map[string][]netip.Addr `json:"hosts,omitempty"`
	Exists  bool                    `json:"table_exists"`
	Changed bool                    `json:"changed"`
	Diff    string                  `json:"diff,omitempty"`
	// Warnings about the policy (dead rules), as validate prints them.
	Warnings []compile.Warning `json:"warnings,omitempty"`
}

func printPlan(d Deps, g *globals, c *compiled, cur *ruleset.Ruleset) error {
	// The kernel reads back in canonical form (protocol dependencies explicit).
	delta := drift.TableDiff("kernel", cur, c.path, c.rs)
	_, warnings := compile.CompileWithWarnings(c.resolved)
	if g.json {
		return printJSON(d.Stdout, planJSON{File: c.path, Hosts: c.resolved.Hosts, Exists: cur != nil, Changed: delta != "", Diff: delta,
			Warnings: warnings})
	}
	printWarnings(d, warnings)
	printHosts(d, c)
	switch {
	case cur == nil:
		fmt.Fprintf(d.Stdout, "table inet %s does not exist; apply would create it:\n%s", ruleset.TableName, delta)
	case delta == "":
		fmt.Fprintf(d.Stdout, "No changes: the kernel already enforces %s.\n", c.path)
	default:
		fmt.Fprintf(d.Stdout, "apply would change table inet %s:\n%s", ruleset.TableName, delta)
	}
	return nil
}

func printHosts(d Deps, c *compiled) {
	if len(c.resolved.Hosts) == 0 {
		return
	}
	names := make([]string, 0, len(c.resolved.Hosts))
	for n := range c.resolved.Hosts {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(d.Stdout, "Hostnames, resolved now:")
	for _, n := range names {
		var addrs []string
		for _, a := range c.resolved.Hosts[n] {
			addrs = append(addrs, a.String())
		}
		fmt.Fprintf(d.Stdout, "  %s -> %s\n", n, strings.Join(addrs, ", "))
	}
}
