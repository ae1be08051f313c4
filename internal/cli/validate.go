package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/compile"
)

// summary counts what a policy file contains, for validate and apply.
type summary struct {
	File        string `json:"file"`
	Policies    int    `json:"policies"`
	Rules       int    `json:"rules"`
	Hostnames   int    `json:"hostnames"`
	Sets        int    `json:"sets"`
	Chains      int    `json:"chains"`
	KernelRules int    `json:"kernel_rules"`
}

func summarize(c *compiled) summary {
	s := summary{File: c.path, Policies: len(c.resolved.Policies), Hostnames: len(c.resolved.Hosts),
		Sets: len(c.rs.Sets) + len(c.rs.Maps), Chains: len(c.rs.Chains)}
	for _, p := range c.resolved.Policies {
		s.Rules += len(p.Rules)
	}
	for _, ch := range c.rs.Chains {
		s.KernelRules += len(ch.Rules)
	}
	return s
}

func (s summary) String() string {
	return fmt.Sprintf("%d policies, %d rules, %d hostnames resolved; compiles to %d chains, %d sets and maps, %d kernel rules",
		s.Policies, s.Rules, s.Hostnames, s.Chains, s.Sets, s.KernelRules)
}

func validateCmd(d Deps, g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a policy file without touching the kernel",
		Long: `Parse, validate, resolve (users, groups, services, hostnames) and compile
FILE. Prints a one-line summary on success; every error as FILE:LINE:COL:
message and exit status 2 otherwise.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := loadPolicy(cmd.Context(), d, g, args[0])
			if err != nil {
				return err
			}
			s := summarize(c)
			_, warnings := compile.CompileWithWarnings(c.resolved)
			if g.json {
				return printJSON(d.Stdout, struct {
					Valid bool `json:"valid"`
					summary
					Warnings []compile.Warning `json:"warnings,omitempty"`
				}{true, s, warnings})
			}
			fmt.Fprintf(d.Stdout, "%s: valid: %s\n", args[0], s)
			printWarnings(d, warnings)
			return nil
		},
	}
}

// printWarnings writes each warning to stderr as FILE:LINE:COL: warning:
// message; fix. Warnings never change the exit status.
func printWarnings(d Deps, ws []compile.Warning) {
	for _, w := range ws {
		fmt.Fprintln(d.Stderr, w.String())
	}
}
