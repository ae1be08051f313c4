package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/drift"
	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/state"
)

func reapplyCmd(d Deps, g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "reapply",
		Short: "Recompile the current policy with today's users, groups and hostnames",
		Long: `Recompile the current generation's stored policy (its policy.yaml, not the
file on disk) with the user database and DNS as they are now. If the
compiled table differs from the stored one (group membership changed, a
user was added, a hostname moved), apply it and record a new generation
("reapply of N"), printing the difference; otherwise change nothing.
Run by leash-reapply.path when /etc/passwd or /etc/group change, and by
the optional leash-reapply.timer. A pending confirmation stays pending:
its revert still goes back to the last confirmed generation. If the policy
no longer resolves (a user it names was deleted), nothing changes and the
errors are printed (exit 2).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ok, err := stateExists(g)
			if err != nil || !ok {
				if err == nil {
					fmt.Fprintf(d.Stdout, "nothing to reapply: %s does not exist (leash was never applied here)\n", g.stateDir)
				}
				return err
			}
			st := g.store()
			cur, _, err := viewCurrent(d, g, st) // a change a killed leash left half-recorded counts if the kernel holds it
			if errors.Is(err, state.ErrNone) {
				fmt.Fprintf(d.Stdout, "nothing to reapply: no generation was ever applied in %s\n", st.Dir)
				return nil
			}
			if err != nil {
				return err
			}
			if cur.Ruleset == nil || len(cur.Policy) == 0 {
				fmt.Fprintf(d.Stdout, "nothing to reapply: %s has no policy\n", describe(cur.Meta))
				return nil
			}
			// Compile before taking the lock: DNS may be slow.
			c, err := compileSource(cmd.Context(), d, g, cur.PolicyFile, cur.Policy)
			if err != nil {
				return err
			}
			lk, err := lockState(cmd, d, g, args)
			if err != nil {
				return err
			}
			defer lk.Unlock()
			return reapply(d, g, st, cur, c)
		},
	}
}

func reapply(d Deps, g *globals, st *state.Store, cur *state.Generation, c *compiled) error {
	if now, err := st.CurrentID(); err != nil || now != cur.ID {
		fmt.Fprintf(d.Stdout, "generation %d is no longer current (another leash changed it meanwhile); nothing to reapply\n", cur.ID)
		return err
	}
	delta := drift.TableDiff(fmt.Sprintf("generation %d", cur.ID), cur.Ruleset, "recompiled now", c.rs)
	if delta == "" {
		if g.json {
			return printJSON(d.Stdout, struct {
				Changed    bool `json:"changed"`
				Generation int  `json:"generation"`
			}{false, cur.ID})
		}
		fmt.Fprintf(d.Stdout, "no change: %s compiles to the same table with today's users, groups and hostnames\n", describe(cur.Meta))
		return nil
	}
	k, err := openKernel(d, g)
	if err != nil {
		return err
	}
	defer k.Close()
	gen := &state.Generation{
		Meta: state.Meta{Time: d.Now().UTC(), PolicyFile: cur.PolicyFile, Action: state.ActionReapply, Source: cur.ID,
			Note: fmt.Sprintf("reapply of %d", cur.ID), Summary: shortSummary(c)},
		Ruleset: c.rs, Hosts: hostStrings(c), Policy: cur.Policy,
	}
	id, err := recordChange(d, st, gen, false, "the recompiled table", func(int) error {
		if err := k.Apply(c.rs); err != nil {
			return fmt.Errorf("reapply of generation %d: the kernel refused table inet %s, nothing changed: %w", cur.ID, ruleset.TableName, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	prune(d, st)
	if g.json {
		return printJSON(d.Stdout, struct {
			Changed    bool   `json:"changed"`
			Generation int    `json:"generation"`
			Source     int    `json:"source"`
			Diff       string `json:"diff"`
		}{true, id, cur.ID, delta})
	}
	fmt.Fprintf(d.Stdout, "reapplied generation %d's policy %s as generation %d: %s\nChanges:\n%s", cur.ID, cur.PolicyFile, id, shortSummary(c), delta)
	return nil
}
