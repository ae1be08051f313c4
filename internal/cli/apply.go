package cli

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/state"
)

func applyCmd(d Deps, g *globals) *cobra.Command {
	var confirm time.Duration
	cmd := &cobra.Command{
		Use:   "apply FILE",
		Short: "Enforce a policy: replace leash's table atomically",
		Long: `Validate and compile FILE, then replace table inet leash in one netlink
transaction: packets see either the old table or the new one, never a mix
and never no table. If anything is wrong with FILE, or the kernel refuses
the table, nothing changes. Other tables are never touched. Idempotent.
The applied policy is stored as a new generation under --state-dir.

With --confirm DURATION, a detached process reverts to the last confirmed
generation (or removes the table, if there was none) when DURATION has
passed, unless ` + "`leash confirm`" + ` runs first: the revert happens even if the
terminal or the SSH session dies. Applying again with --confirm while a
confirmation is pending replaces it; the revert still goes back to the last
confirmed generation. A plain apply, a rollback or a reset drops a pending
confirmation: nothing is reverted then.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if confirm < 0 {
				return usage("--confirm %s: give a positive duration such as 60s", confirm)
			}
			if err := trustedInputs(g, args[0]); err != nil {
				return err
			}
			c, err := loadPolicy(cmd.Context(), d, g, args[0])
			if err != nil {
				return err
			}
			return withLockedKernel(cmd, d, g, args, false, func(k Kernel) error {
				st := g.store()
				pend, err := st.Pending()
				if err != nil {
					return fmt.Errorf("%w: run %s to clear it, then apply again", err, leashCommand(g, "confirm"))
				}
				if confirm > 0 {
					return applyConfirmed(d, g, st, k, c, pend, confirm)
				}
				return applyPlain(d, g, st, k, c, pend)
			})
		},
	}
	cmd.Flags().DurationVar(&confirm, "confirm", 0, "revert automatically after this long (e.g. 60s) unless `leash confirm` runs first")
	return cmd
}

// applyPlain enforces c and records it; a pending confirmation is dropped.
func applyPlain(d Deps, g *globals, st *state.Store, k Kernel, c *compiled, pend *state.Pending) error {
	id, err := recordChange(d, st, appliedGeneration(d, c), true, c.path, func(int) error {
		return applyTable(k, c)
	})
	if err != nil {
		return err
	}
	dropped := 0
	if pend != nil {
		dropped = pend.Generation
	}
	prune(d, st)
	s := summarize(c)
	if g.json {
		return printJSON(d.Stdout, struct {
			Applied    bool `json:"applied"`
			Generation int  `json:"generation"`
			Dropped    int  `json:"dropped_pending,omitempty"`
			summary
		}{true, id, dropped, s})
	}
	fmt.Fprintf(d.Stdout, "applied %s (generation %d): %s\n", c.path, id, s)
	if dropped != 0 {
		fmt.Fprintf(d.Stdout, "generation %d was awaiting confirmation; this apply replaces it, so nothing will be reverted.\n", dropped)
	}
	return nil
}

// reverterLockTimeout is how long the reverter waits for the lock: long, so
// that a slow apply in the way does not cancel the revert.
const reverterLockTimeout = 10 * time.Minute

// applyConfirmed enforces c with a safety net. Order matters: the new
// generation and its intent (recordChange), then the pending record and
// the reverter exist before the kernel changes, so that whatever happens
// to this process afterwards, the change is reverted at the deadline
// unless confirmed. The record keeps a confirmation it replaces (pend) in
// Replaces: if this process dies before the kernel changes, recovery puts
// pend back, and pend's reverter, which waits while the record may still
// fall back to it (state.Pending.Awaits), reverts the generation in force.
func applyConfirmed(d Deps, g *globals, st *state.Store, k Kernel, c *compiled, pend *state.Pending, window time.Duration) error {
	prev, err := revertTarget(st, pend)
	if err != nil {
		return err
	}
	p := &state.Pending{Previous: prev, Deadline: d.Clock().Add(window).UTC(), Window: fmt.Sprintf("%gs", window.Seconds()), Replaces: settled(pend)}
	id, err := recordChange(d, st, appliedGeneration(d, c), false, c.path, func(next int) error {
		p.Generation = next
		return applyWithReverter(d, g, st, k, c, pend, p)
	})
	if err != nil && id != 0 {
		return fmt.Errorf("%w (it is still reverted at %s)", err, clock(p.Deadline))
	}
	if err != nil {
		return err
	}
	prune(d, st)
	return printPending(d, g, st, c, p)
}

// settled is the pending confirmation pend as a new one keeps it in
// Replaces: a copy without its own Replaces, which only mattered until
// pend's change was settled (it is: the caller holds the lock and has
// recovered). nil for nil.
func settled(pend *state.Pending) *state.Pending {
	if pend == nil {
		return nil
	}
	c := *pend
	c.Replaces = nil
	return &c
}

// applyWithReverter records p, starts the reverter and then changes the
// kernel. If anything fails, the pending record in force before (pend) is
// put back, so the new reverter finds nothing to revert, and the kernel is
// as it was.
func applyWithReverter(d Deps, g *globals, st *state.Store, k Kernel, c *compiled, pend, p *state.Pending) error {
	if err := st.SetPending(p); err != nil {
		return fmt.Errorf("record the pending confirmation, nothing changed: %w", err)
	}
	undo := func() { restorePending(d, st, pend) }
	args, err := reverterArgs(g, p)
	if err == nil {
		p.ReverterPID, err = d.Spawn(args, filepath.Join(st.Dir, "revert.log"))
	}
	if err != nil {
		undo()
		return fmt.Errorf("start the automatic revert, nothing changed: %w", err)
	}
	if err := st.SetPending(p); err != nil { // only adds the reverter's pid
		fmt.Fprintf(d.Stderr, "leash: warning: %v\n", err)
	}
	if err := applyTable(k, c); err != nil {
		undo()
		return err
	}
	return nil
}

// applyTable replaces the kernel's table with c's, saying so if refused.
func applyTable(k Kernel, c *compiled) error {
	if err := k.Apply(c.rs); err != nil {
		return fmt.Errorf("apply %s: the kernel refused table inet %s, nothing changed: %w", c.path, ruleset.TableName, err)
	}
	return nil
}

// revertTarget is the generation a revert goes back to: the last confirmed
// one. While a confirmation is pending that is its Previous, otherwise the
// current generation (0: none, the revert removes the table). It must be
// loadable, or there would be nothing safe to revert to.
func revertTarget(st *state.Store, pend *state.Pending) (int, error) {
	prev, err := 0, error(nil)
	if pend != nil {
		prev = pend.Previous
	} else if prev, err = st.CurrentID(); errors.Is(err, state.ErrNone) {
		return 0, nil
	}
	if err == nil && prev > 0 {
		_, err = loadIntact(st, prev)
	}
	if err != nil {
		return 0, fmt.Errorf("cannot apply with --confirm: the generation a revert would restore is unusable: %w; apply without --confirm, or roll back to an intact generation first", err)
	}
	return prev, nil
}

// restorePending puts back the pending record that was in force before a
// failed apply --confirm (or none); the new reverter then finds no record
// naming its generation and exits.
func restorePending(d Deps, st *state.Store, pend *state.Pending) {
	err := st.ClearPending()
	if pend != nil {
		err = st.SetPending(pend)
	}
	if err != nil {
		fmt.Fprintf(d.Stderr, "leash: warning: restore the pending confirmation record: %v\n", err)
	}
}

// reverterArgs is the command line of the detached reverter.
func reverterArgs(g *globals, p *state.Pending) ([]string, error) {
	dir, err := filepath.Abs(g.stateDir)
	if err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	var args []string
	if g.netns != "" {
		args = append(args, "--netns", g.netns)
	}
	return append(args, "--state-dir", dir, "--lock-timeout", reverterLockTimeout.String(),
		"revert-pending", "--generation", fmt.Sprint(p.Generation), "--deadline", p.Deadline.Format(time.RFC3339Nano)), nil
}

func printPending(d Deps, g *globals, st *state.Store, c *compiled, p *state.Pending) error {
	s := summarize(c)
	back := "removes table inet leash again (there was no earlier generation)"
	if p.Previous > 0 {
		back = fmt.Sprintf("reverts to generation %d", p.Previous)
		if m, err := st.Load(p.Previous); err == nil {
			back = "reverts to " + describe(m.Meta)
		}
	}
	confirmWith := leashCommand(g, "confirm")
	if g.json {
		return printJSON(d.Stdout, struct {
			Applied    bool           `json:"applied"`
			Generation int            `json:"generation"`
			Pending    *state.Pending `json:"pending"`
			Confirm    string         `json:"confirm_command"`
			summary
		}{true, p.Generation, p, confirmWith, s})
	}
	fmt.Fprintf(d.Stdout, "applied %s (generation %d): %s\n", c.path, p.Generation, s)
	fmt.Fprintf(d.Stdout, "NOT CONFIRMED YET: at %s (in %s) leash %s.\n", clock(p.Deadline), p.Window, back)
	fmt.Fprintf(d.Stdout, "If everything still works, keep it with:\n    %s\n", confirmWith)
	return nil
}

// clock formats a deadline for people.
func clock(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 MST") }

// appliedGeneration is the record of applying c.
func appliedGeneration(d Deps, c *compiled) *state.Generation {
	abs, err := filepath.Abs(c.path)
	if err != nil {
		abs = c.path
	}
	return &state.Generation{
		Meta:    state.Meta{Time: d.Now().UTC(), PolicyFile: abs, Action: state.ActionApply, Summary: shortSummary(c)},
		Ruleset: c.rs, Hosts: hostStrings(c), Policy: c.src,
	}
}

// hostStrings is what every hostname of c resolved to, for the record.
func hostStrings(c *compiled) map[string][]string {
	hosts := map[string][]string{}
	for n, addrs := range c.resolved.Hosts {
		for _, a := range addrs {
			hosts[n] = append(hosts[n], a.String())
		}
	}
	return hosts
}
