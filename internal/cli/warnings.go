package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/engine"
	"github.com/leash-dev/leash/internal/termtext"
)

// strictFlag adds --strict to a command that compiles a policy.
func strictFlag(cmd *cobra.Command, strict *bool) {
	cmd.Flags().BoolVar(strict, "strict", false, "treat warnings about the policy file as errors (exit 2, nothing changed)")
}

// reportWarnings prints c's warnings on stderr, one per line as
// FILE:LINE:COL: warning: MESSAGE; FIX, and with strict refuses them.
// Warnings never change anything otherwise.
func reportWarnings(d Deps, c *engine.Compiled, strict bool) error {
	ws := c.Warnings()
	for _, w := range ws {
		fmt.Fprintln(d.Stderr, termtext.Escape(w.String()))
	}
	return strictly(c, strict)
}
