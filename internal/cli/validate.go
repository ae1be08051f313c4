package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/engine"
)

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
			s := c.Summary()
			if g.json {
				return printJSON(d.Stdout, struct {
					Valid bool `json:"valid"`
					engine.Summary
				}{true, s})
			}
			fmt.Fprintf(d.Stdout, "%s: valid: %s\n", args[0], s)
			return nil
		},
	}
}
