package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/engine"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/termtext"
)

func validateCmd(d Deps, g *globals) *cobra.Command {
	var strict bool
	cmd := &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a policy file without touching the kernel",
		Long: `Parse, validate, resolve (users, groups, services, hostnames) and compile
FILE. Prints a one-line summary on success, and on stderr every warning
(FILE:LINE:COL: warning: ...; see docs/policy.md); every error as
FILE:LINE:COL: message and exit status 2 otherwise. --strict makes
warnings errors.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := loadPolicy(cmd.Context(), d, g, args[0])
			if err != nil {
				return err
			}
			s := c.Summary()
			if g.json {
				if err := printJSON(d.Stdout, struct {
					Valid bool `json:"valid"`
					engine.Summary
					Warnings []policy.Warning `json:"warnings,omitempty"`
				}{true, s, c.Warnings()}); err != nil {
					return err
				}
				return strictly(c, strict)
			}
			fmt.Fprintf(d.Stdout, "%s: valid: %s\n", termtext.Escape(args[0]), s)
			return reportWarnings(d, c, strict)
		},
	}
	strictFlag(cmd, &strict)
	return cmd
}

func lintCmd(d Deps, g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "lint FILE",
		Short: "Print only the warnings about a policy file (what a careful reviewer would flag)",
		Long: `Validate FILE like leash validate and print only its warnings, one per
line as FILE:LINE:COL: warning: MESSAGE; FIX (docs/policy.md lists them).
Exit status 0 when there is none, 1 when there are warnings, 2 when the
file is invalid.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := loadPolicy(cmd.Context(), d, g, args[0])
			if err != nil {
				return err
			}
			ws := c.Warnings()
			if g.json {
				if err := printJSON(d.Stdout, ws); err != nil {
					return err
				}
			} else {
				for _, w := range ws {
					fmt.Fprintln(d.Stdout, termtext.Escape(w.String()))
				}
			}
			if len(ws) > 0 {
				return &exitError{code: 1}
			}
			return nil
		},
	}
}

// strictly refuses c's warnings under --strict (for --json output, where
// they are in the data).
func strictly(c *engine.Compiled, strict bool) error {
	if n := len(c.Warnings()); strict && n > 0 {
		return usage("%d warning(s) about %s, and --strict refuses them; nothing was changed", n, c.Path)
	}
	return nil
}
