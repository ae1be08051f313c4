package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/engine"
	"github.com/leash-dev/leash/internal/eval"
	"github.com/leash-dev/leash/internal/localapi"
	"github.com/leash-dev/leash/internal/state"
	"github.com/leash-dev/leash/internal/termtext"
)

func applyCmd(d Deps, g *globals) *cobra.Command {
	var (
		confirm time.Duration
		strict  bool
	)
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
		Args: usageArgs(cobra.ExactArgs(1)),
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
			if err := reportWarnings(d, c, strict); err != nil {
				return err
			}
			if confirm == 0 {
				warnLockout(d, c)
			}
			ctl, err := controlFor(cmd, d, g, args)
			if err != nil {
				return err
			}
			if _, viaDaemon := ctl.(*localapi.Client); !viaDaemon {
				warnNoDaemon(d, c)
			}
			res, err := ctl.Apply(cmd.Context(), c, engine.ApplyOptions{Confirm: confirm})
			if err != nil {
				return err
			}
			if res.Pending != nil {
				return printPending(d, g, c, res)
			}
			return printApplied(d, g, c, res)
		},
	}
	strictFlag(cmd, &strict)
	cmd.Flags().DurationVar(&confirm, "confirm", 0, "revert automatically after `DURATION` (e.g. 60s) unless leash confirm runs first")
	return cmd
}

// warnNoDaemon says, before a direct apply of a policy that governs
// programs, that new cgroups on the way to governed ones (other services'
// restarts included) stay held until leash daemon classifies them: with no
// daemon running, a restarted service loses its network until a reapply.
func warnNoDaemon(d Deps, c *engine.Compiled) {
	var governed []string
	for _, p := range c.Resolved.Policies {
		for _, cg := range p.Cgroups {
			governed = append(governed, cg.Path)
		}
	}
	if len(governed) == 0 {
		return
	}
	fmt.Fprintf(d.Stderr, "leash: warning: this policy governs programs (%s), and leash daemon is not running: "+
		"every cgroup made later next to a governed one or on the way to it (any service restarted, sshd included) "+
		"has its packets dropped until the daemon classifies it; start leash daemon (systemctl enable --now leash-daemon) "+
		"or run leash reapply after each restart\n", termtext.Escape(strings.Join(governed, ", ")))
}

// warnLockout says, before an apply without a confirmation window, what in
// the policy could cut off the admin applying it (eval.LockoutRisks), and
// how to apply it safely.
func warnLockout(d Deps, c *engine.Compiled) {
	ssh := ""
	if d.Getenv != nil {
		ssh = d.Getenv("SSH_CONNECTION")
	}
	for _, r := range eval.LockoutRisks(c.Ruleset, ssh) {
		fmt.Fprintf(d.Stderr, "leash: warning: %s; to have it reverted unless you confirm, apply with --confirm 60s\n", termtext.Escape(r))
	}
}

func printApplied(d Deps, g *globals, c *engine.Compiled, res *engine.ApplyResult) error {
	s := c.Summary()
	if g.json {
		return printJSON(d.Stdout, struct {
			Applied    bool `json:"applied"`
			Generation int  `json:"generation"`
			Unchanged  bool `json:"unchanged,omitempty"`
			Dropped    int  `json:"dropped_pending,omitempty"`
			engine.Summary
		}{true, res.Generation, res.Unchanged, res.DroppedPending, s})
	}
	if res.Unchanged {
		fmt.Fprintf(d.Stdout, "unchanged: generation %d already enforces %s (%s); nothing was changed\n", res.Generation, termtext.Escape(c.Path), s)
		return nil
	}
	fmt.Fprintf(d.Stdout, "applied %s (generation %d): %s\n", termtext.Escape(c.Path), res.Generation, s)
	if res.DroppedPending != 0 {
		fmt.Fprintf(d.Stdout, "generation %d was awaiting confirmation; this apply replaces it, so nothing will be reverted.\n", res.DroppedPending)
	}
	return nil
}

func printPending(d Deps, g *globals, c *engine.Compiled, res *engine.ApplyResult) error {
	s, p := c.Summary(), res.Pending
	back := "removes table inet leash again (there was no earlier generation)"
	switch {
	case res.RevertsTo != nil:
		back = "reverts to " + describe(*res.RevertsTo)
	case p.Previous > 0:
		back = fmt.Sprintf("reverts to generation %d", p.Previous)
	}
	confirmWith := leashCommand(g, "confirm")
	if g.json {
		return printJSON(d.Stdout, struct {
			Applied    bool           `json:"applied"`
			Generation int            `json:"generation"`
			Pending    *state.Pending `json:"pending"`
			Confirm    string         `json:"confirm_command"`
			engine.Summary
		}{true, p.Generation, p, confirmWith, s})
	}
	fmt.Fprintf(d.Stdout, "applied %s (generation %d): %s\n", termtext.Escape(c.Path), p.Generation, s)
	fmt.Fprintf(d.Stdout, "NOT CONFIRMED YET: at %s (in %s) leash %s.\n", stamp(p.Deadline), p.Window, back)
	fmt.Fprintf(d.Stdout, "If everything still works, keep it with:\n    %s\n", confirmWith)
	return nil
}
