package cli

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/state"
)

func rollbackCmd(d Deps, g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "rollback [N]",
		Short: "Re-apply a stored generation (default: the one before the current)",
		Long: `Load generation N's stored compiled ruleset into the kernel, atomically,
and record that as a new generation ("rollback to N"): history is a log,
never rewritten. No policy file, DNS or user database is consulted: the
kernel gets exactly the table generation N had. Without N, the generation
before the current one. A pending confirmation is dropped. See leash history.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			target := 0
			if len(args) == 1 {
				n, err := strconv.Atoi(args[0])
				if err != nil || n <= 0 {
					return usage("rollback %q: give a generation number (see leash history)", args[0])
				}
				target = n
			}
			return withLockedKernel(cmd, d, g, args, false, func(k Kernel) error {
				return rollbackTo(d, g, k, target)
			})
		},
	}
}

// rollbackTo re-applies generation target (0: the one before the current)
// and records that as a new generation; the caller holds the lock.
func rollbackTo(d Deps, g *globals, k Kernel, target int) error {
	st := g.store()
	if target == 0 {
		var err error
		if target, err = previousID(st); err != nil {
			return err
		}
	}
	gen, err := loadIntact(st, target)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("generation %d does not exist in %s; see leash history", target, st.Dir)
	case err != nil:
		return fmt.Errorf("generation %d cannot be used: %w; pick another (leash history)", target, err)
	}
	dropped := pendingGeneration(st)
	id, err := replay(d, st, k, gen, state.Meta{Action: state.ActionRollback, Note: fmt.Sprintf("rollback to %d", target)},
		fmt.Sprintf("generation %d's table", target), func(err error) error {
			return fmt.Errorf("rollback to %d: the kernel refused table inet %s, nothing changed: %w", target, ruleset.TableName, err)
		})
	if err != nil {
		return err
	}
	prune(d, st)
	if g.json {
		return printJSON(d.Stdout, struct {
			RolledBackTo int `json:"rolled_back_to"`
			Generation   int `json:"generation"`
			Dropped      int `json:"dropped_pending,omitempty"`
		}{target, id, dropped})
	}
	fmt.Fprintf(d.Stdout, "rolled back to %s, applied %s: now generation %d\n", describe(gen.Meta), clock(gen.Time), id)
	if dropped != 0 {
		fmt.Fprintf(d.Stdout, "generation %d was awaiting confirmation; the rollback replaces it, so nothing will be reverted.\n", dropped)
	}
	return nil
}

// previousID is the generation before the current one in the log.
func previousID(st *state.Store) (int, error) {
	cur, err := st.CurrentID()
	if errors.Is(err, state.ErrNone) {
		return 0, fmt.Errorf("nothing was applied yet: there is nothing to roll back to")
	}
	if err != nil {
		return 0, fmt.Errorf("%w; name the generation to roll back to: leash rollback N (see leash history)", err)
	}
	ids, err := st.IDs()
	if err != nil {
		return 0, err
	}
	prev := 0
	for _, id := range ids {
		if id < cur {
			prev = id
		}
	}
	if prev == 0 {
		return 0, fmt.Errorf("generation %d is the oldest stored: there is nothing before it (leash reset removes the table)", cur)
	}
	return prev, nil
}

// pendingGeneration is the generation awaiting confirmation (0: none, or
// the record is corrupt), read before a change that replaces it: the
// change's commit clears the record, a corrupt one too.
func pendingGeneration(st *state.Store) int {
	p, err := st.Pending()
	if err != nil || p == nil {
		return 0
	}
	return p.Generation
}
