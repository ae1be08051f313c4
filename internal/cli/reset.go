package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/state"
)

func resetCmd(d Deps, g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "reset",
		Short: "Remove leash's table (and nothing else)",
		Long: `Delete table inet leash. Every connection is then governed by the host's
other tables alone. Other tables are never touched. Idempotent. Once
leash has applied something, the reset is recorded as a generation without
a table (so a restart does not bring the old table back) and a pending
confirmation is dropped.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var id int
			err := withLockedKernel(cmd, d, g, args, false, func(k Kernel) (err error) {
				id, err = resetRecorded(d, g.store(), k)
				return err
			})
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(d.Stdout, struct {
					Reset      bool `json:"reset"`
					Generation int  `json:"generation,omitempty"`
				}{true, id})
			}
			fmt.Fprintf(d.Stdout, "table inet %s removed; leash enforces nothing now.\n", ruleset.TableName)
			return nil
		},
	}
}

// resetRecorded removes the table. Once leash has applied something, and
// unless the current generation already has no table, the removal is
// recorded (in two phases, recordChange) as a generation without a table.
// A pending confirmation is dropped either way.
func resetRecorded(d Deps, st *state.Store, k Kernel) (int, error) {
	refused := func(err error) error { return fmt.Errorf("remove table inet %s: %w", ruleset.TableName, err) }
	ids, err := st.IDs()
	if err != nil {
		return 0, err
	}
	if cur, err := st.Current(); len(ids) == 0 || (err == nil && cur.Ruleset == nil) {
		if err := k.Reset(); err != nil {
			return 0, refused(err)
		}
		if len(ids) == 0 {
			return 0, nil
		}
		return 0, st.ClearPending() // a corrupt record too
	}
	id, err := replay(d, st, k, nil, state.Meta{Action: state.ActionReset, Note: "reset: table removed"},
		fmt.Sprintf("the removal of table inet %s", ruleset.TableName), refused)
	if err != nil {
		return id, err
	}
	prune(d, st)
	return id, nil
}
