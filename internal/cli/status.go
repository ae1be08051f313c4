package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/drift"
	"github.com/leash-dev/leash/internal/engine"
	"github.com/leash-dev/leash/internal/firewalls"
	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/termtext"
)

// Limits of status's text output; --json always carries everything.
const (
	maxStatusChanges   = 20
	maxStatusDiffLines = 40
)

func statusCmd(d Deps, g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Say whether the kernel still enforces the last applied policy, with counters",
		Long: `Compare table inet leash in the kernel with the generation last applied
(under --state-dir), counters left out, and print one of:

  in sync      the kernel holds exactly what leash applied
  drifted      the table was changed (what differs is listed, with a diff),
               holds rules leash did not write, or no generation is recorded
  missing      a generation is current but the table is gone: nothing is enforced
  not applied  no generation and no table

Then the kernel's counters: for every policy, the packets and bytes it
allowed and denied, and for every rule its counters, verdict and policy line.

Each hostname of the policy is listed with its addresses: as resolved at
apply, or, once leash daemon refreshes it, when it was last refreshed, its
TTL, a failed lookup and the addresses kept after they left the answer
(read from the state directory: no daemon is asked).

A confirmation window (apply --confirm) is reported on its own line: pending
(reverted at its deadline unless confirmed), OVERDUE (its deadline passed
and the revert did not happen), ORPHANED (its reverter is gone) or
UNREADABLE (the record is damaged).

Exit status: 0 in sync or not applied, 1 drifted or missing, or while a
confirmation is pending in any state (or on an error), so that monitoring
can run it as a check.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStatus(cmd, d, g)
		},
	}
}

// statusJSON is status's --json output.
type statusJSON struct {
	drift.Report
	StateDir    string                `json:"state_dir"`
	Generation  *generationJSON       `json:"generation,omitempty"`
	TableExists bool                  `json:"table_exists"`
	Counters    []drift.ChainCounters `json:"counters,omitempty"`
	// Interrupted is a change not recorded as done; Generation is then
	// what the next leash that takes the lock will record as current.
	Interrupted *engine.Interrupted `json:"interrupted,omitempty"`
	// Pending is the confirmation awaited, if any.
	Pending *engine.PendingReport `json:"pending,omitempty"`
	// Others are the other firewalls' base chains and legacy iptables
	// tables (nil when they could not be read).
	Others *firewalls.Others `json:"others,omitempty"`
	// Hosts are the hostnames of the generation in force and their
	// refresh state (status_hosts.go).
	Hosts *hostsJSON `json:"hostnames,omitempty"`
	// now is when status ran, for relative times.
	now time.Time
	// Daemon is the leash daemon that answered (nil: none runs).
	Daemon *engine.Daemon `json:"daemon"`
	// Cgroups are the cgroups the policy governs (status_cgroups.go).
	Cgroups []cgroupStatusJSON `json:"cgroups,omitempty"`
	// Forward lists the subjects of forwarded traffic per policy.
	Forward []forwardStatusJSON `json:"forward,omitempty"`
	// Windows is when the time windows in force end (nil: none).
	Windows *engine.WindowsStatus `json:"windows,omitempty"`
	// expectsTable: the generation has a ruleset (it is not a reset).
	expectsTable bool
}

// generationJSON identifies a generation.
type generationJSON struct {
	ID         int       `json:"id"`
	Time       time.Time `json:"time"`
	PolicyFile string    `json:"policy_file"`
}

func runStatus(cmd *cobra.Command, d Deps, g *globals) error {
	ctl, err := controlFor(cmd, d, g, nil)
	if err != nil {
		return err
	}
	st, err := ctl.Status()
	if err != nil {
		return err
	}
	out := statusJSON{Report: st.Report, StateDir: g.stateDir, TableExists: st.TableExists, Interrupted: st.Interrupted, Pending: st.Pending, Others: st.Others, Counters: st.Counters,
		Hosts: statusHosts(st), now: d.Now(), Daemon: st.Daemon, Windows: st.Windows}
	if gen := st.Generation; gen != nil {
		out.expectsTable = gen.Ruleset != nil
		out.Generation = &generationJSON{ID: gen.ID, Time: gen.Time, PolicyFile: gen.PolicyFile}
		out.Cgroups = governedCgroups(d, engineFor(cmd, d, g, nil), gen) // the live snapshot: read-only
		out.Forward = forwardSubjects(gen.Ruleset)
	}
	if g.json {
		err = printJSON(d.Stdout, out)
	} else {
		printStatus(d.Stdout, out)
	}
	if err == nil && (!out.State.Healthy() || out.Pending != nil) {
		err = &exitError{code: 1}
	}
	return err
}

// describeGeneration is "generation 3 (/etc/leash/policy.yaml, applied 2026-11-21 12:00:00 UTC)".
func describeGeneration(gen *generationJSON) string {
	file := ""
	if gen.PolicyFile != "" {
		file = termtext.Escape(gen.PolicyFile) + ", "
	}
	return fmt.Sprintf("generation %d (%sapplied %s)", gen.ID, file, gen.Time.UTC().Format("2006-01-02 15:04:05 MST"))
}

func printStatus(w io.Writer, s statusJSON) {
	t := ruleset.TableName
	switch {
	case s.State == drift.NotApplied && s.Generation != nil:
		fmt.Fprintf(w, "not applied: %s removed table inet %s, and the kernel has none; leash enforces nothing.\n", describeGeneration(s.Generation), t)
	case s.State == drift.NotApplied:
		fmt.Fprintf(w, "not applied: no generation under %s and no table inet %s in the kernel; leash enforces nothing.\n", termtext.Escape(s.StateDir), t)
	case s.State == drift.Missing:
		fmt.Fprintf(w, "missing: %s is current, but table inet %s is not in the kernel: leash enforces nothing.\n", describeGeneration(s.Generation), t)
		if s.Generation.PolicyFile != "" {
			fmt.Fprintf(w, "  To restore it, run: leash apply %s\n", termtext.Escape(s.Generation.PolicyFile))
		}
	case s.State == drift.InSync:
		fmt.Fprintf(w, "in sync: table inet %s is %s.\n", t, describeGeneration(s.Generation))
	case s.Generation == nil:
		fmt.Fprintf(w, "drifted: table inet %s is in the kernel, but no generation is recorded under %s (applied by hand, or with another --state-dir).\n", t, termtext.Escape(s.StateDir))
	case !s.expectsTable:
		fmt.Fprintf(w, "drifted: table inet %s is in the kernel, but %s removed it.\n", t, describeGeneration(s.Generation))
	case len(s.Foreign) > 0:
		fmt.Fprintf(w, "drifted: table inet %s holds content leash did not write (tampered?); it was %s.\n", t, describeGeneration(s.Generation))
	default:
		fmt.Fprintf(w, "drifted: table inet %s differs from %s.\n", t, describeGeneration(s.Generation))
	}
	if s.Pending != nil {
		fmt.Fprintf(w, "  %s.\n", termtext.Escape(s.Pending.String()))
	}
	printWindows(w, s.Windows)
	if s.Interrupted != nil {
		fmt.Fprintf(w, "  note: %s.\n", termtext.Escape(s.Interrupted.String()))
	}
	fmt.Fprintf(w, "  %s.\n", daemonLine(s.Daemon))
	printDrift(w, s)
	if s.Others != nil {
		printOthers(w, *s.Others)
	}
	if s.Hosts != nil {
		printHostnames(w, s.Hosts, s.now)
	}
	printCgroups(w, s.Cgroups)
	printForward(w, s.Forward)
	if len(s.Counters) > 0 {
		fmt.Fprintln(w)
		printCounters(w, s.Counters)
	}
}

// printDrift lists foreign content, changes and the diff, each bounded.
func printDrift(w io.Writer, s statusJSON) {
	for _, f := range s.Foreign {
		fmt.Fprintf(w, "  foreign: %s\n", termtext.Escape(fmt.Sprint(f)))
	}
	for i, c := range s.Changes {
		if i == maxStatusChanges {
			fmt.Fprintf(w, "  ... and %d more changes (leash --json status lists them all)\n", len(s.Changes)-i)
			break
		}
		fmt.Fprintf(w, "  %s\n", termtext.Escape(fmt.Sprint(c)))
	}
	if s.Diff != "" {
		lines := strings.SplitAfter(strings.TrimSuffix(s.Diff, "\n"), "\n")
		for i, l := range lines {
			if i == maxStatusDiffLines {
				fmt.Fprintf(w, "\n... %d more diff lines (leash --json status prints the whole diff)\n", len(lines)-i)
				break
			}
			fmt.Fprint(w, l)
		}
		fmt.Fprintln(w)
	}
	if s.State == drift.Drifted && s.expectsTable && s.Generation.PolicyFile != "" {
		fmt.Fprintf(w, "  To enforce the applied policy again, run: leash apply %s\n", termtext.Escape(s.Generation.PolicyFile))
	}
}

// printOthers lists the other firewalls on the hooks leash uses, which
// judge the same packets: a drop in any of them is final.
func printOthers(w io.Writer, o firewalls.Others) {
	chains := append(o.OnHook("output"), o.OnHook("forward")...)
	if len(chains) == 0 && len(o.Legacy) == 0 {
		return
	}
	fmt.Fprintln(w, "\nOther firewalls on the same hooks (each judges the same packets; a drop in any table is final, leash's accept ends only its own chain):")
	for _, c := range chains {
		what := "accepts only"
		if c.MayDrop() {
			what = "may drop"
		}
		fmt.Fprintf(w, "  %s: %s, %s\n", termtext.Escape(c.String()), what, c.Order(0))
	}
	for _, l := range o.Legacy {
		fmt.Fprintf(w, "  legacy iptables table %s (%s): its rules are invisible to nftables and may drop\n", termtext.Escape(l.Table), l.Family)
	}
}

// printCounters prints per-chain totals and per-rule counters.
func printCounters(w io.Writer, chains []drift.ChainCounters) {
	fmt.Fprintln(w, "Counters since the table was loaded:")
	for i, c := range chains {
		if i > 0 {
			fmt.Fprintln(w)
		}
		name := "chain " + c.Chain
		if c.Policy != "" {
			name = fmt.Sprintf("policy %s (chain %s)", c.Policy, c.Chain)
		}
		fmt.Fprintf(w, "%s: allowed %d packets %d bytes, denied %d packets %d bytes\n",
			name, c.Allowed.Packets, c.Allowed.Bytes, c.Denied.Packets, c.Denied.Bytes)
		fmt.Fprintf(w, "  %10s %12s  %-18s %s\n", "packets", "bytes", "verdict", "rule")
		for _, r := range c.Rules {
			src := ""
			if r.Text != "" {
				src = "  " + termtext.Escape(strings.TrimPrefix(r.Source+": "+r.Text, ": "))
			}
			fmt.Fprintf(w, "  %10d %12d  %-18s %s%s\n", r.Packets, r.Bytes, r.Verdict, r.ID, src)
		}
	}
}
