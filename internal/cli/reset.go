package cli

import (
	"errors"
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
			lk, err := lockState(cmd, d, g, args)
			if err != nil {
				return err
			}
			defer lk.Unlock()
			k, err := openKernel(d, g)
			if err != nil {
				return err
			}
			defer k.Close()
			if err := k.Reset(); err != nil {
				return fmt.Errorf("remove table inet %s: %w", ruleset.TableName, err)
			}
			id, err := recordReset(d, g.store())
			if err != nil {
				return fmt.Errorf("table inet %s removed, but recording it failed: %w", ruleset.TableName, err)
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

// recordReset stores a generation without a table, unless nothing was ever
// applied or the current generation already has no table.
func recordReset(d Deps, st *state.Store) (int, error) {
	ids, err := st.IDs()
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	if cur, err := st.Current(); err == nil && cur.Ruleset == nil {
		_, err := dropPending(st)
		return 0, err
	}
	id, err := replay(d, st, nil, state.Meta{Action: state.ActionReset, Note: "reset: table removed"})
	if err != nil {
		return 0, err
	}
	if _, err := dropPending(st); err != nil && !errors.Is(err, state.ErrNone) {
		return id, err
	}
	prune(d, st)
	return id, nil
}
