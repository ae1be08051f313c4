package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/state"
)

func confirmCmd(d Deps, g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "confirm",
		Short: "Keep the generation applied with --confirm (cancel the automatic revert)",
		Long: `Confirm the generation applied with leash apply --confirm: it stays in
force and the automatic revert is cancelled. Exit status 1 if nothing is
pending, saying so, or saying when the automatic revert already happened.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			lk, err := lockState(cmd, d, g, args)
			if err != nil {
				return err
			}
			defer lk.Unlock()
			st := g.store()
			p, err := st.Pending()
			var ce *state.CorruptError
			if errors.As(err, &ce) {
				if err := st.ClearPending(); err != nil {
					return err
				}
				fmt.Fprintf(d.Stdout, "%v\nremoved it: the generation in force stays, and no automatic revert will happen.\n", ce)
				return nil
			}
			if err != nil {
				return err
			}
			if p == nil {
				return nothingPending(st)
			}
			if err := st.ClearPending(); err != nil {
				return err
			}
			if g.json {
				return printJSON(d.Stdout, struct {
					Confirmed int `json:"confirmed"`
				}{p.Generation})
			}
			late := ""
			if d.Clock().After(p.Deadline) {
				late = " (its deadline has passed, but the revert had not happened yet)"
			}
			fmt.Fprintf(d.Stdout, "generation %d confirmed: it stays in force; the automatic revert due at %s is cancelled%s.\n", p.Generation, clock(p.Deadline), late)
			return nil
		},
	}
}

// nothingPending explains why there is nothing to confirm, naming the
// automatic revert if that is what happened last.
func nothingPending(st *state.Store) error {
	cur, err := st.Current()
	if err == nil && cur.Reverts > 0 && (cur.What() == state.ActionRevert || cur.What() == state.ActionEmergency) {
		now := "no table"
		switch {
		case cur.What() == state.ActionEmergency:
			now = "the EMERGENCY table"
		case cur.Source > 0:
			now = fmt.Sprintf("generation %d's table", cur.Source)
		}
		return fmt.Errorf("nothing is pending confirmation: generation %d was not confirmed in time and was reverted at %s; generation %d enforces %s. Apply it again to retry",
			cur.Reverts, clock(cur.Time), cur.ID, now)
	}
	return fmt.Errorf("nothing is pending confirmation (leash apply --confirm DURATION FILE applies with a confirmation window)")
}
