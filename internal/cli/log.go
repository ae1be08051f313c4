package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/denylog"
	"github.com/leash-dev/leash/internal/engine"
	"github.com/leash-dev/leash/internal/identity"
	"github.com/leash-dev/leash/internal/ruleset"
)

// ProcessLookup finds the process holding a logged packet's socket.
type ProcessLookup interface {
	denylog.ProcessFinder
	Close() error
}

type logFlags struct {
	since    string
	user     string
	follow   bool
	group    uint16
	groupSet bool // --nflog-group was given (leash log collect)
	dir      string

	segmentMiB, maxMiB int64
	maxSegments        int
}

const logLong = `Print the connections leash denied, one line per attempt:

  TIME VERDICT USER(UID) PID/COMM EXE UNIT PROTO DESTINATION (HOSTNAMES) RULE FILE:LINE

Denials reach leash through the kernel's NFLOG group (baseline.log.group in
the policy, 4242 by default; --nflog-group overrides it) with a rate limit
per rule. Only one process can read a group in a network namespace, so:

  leash daemon        hosts the collector (leash-daemon.service): it owns
                      the group and keeps a bounded history in --log-dir
                      (default STATE-DIR/log)
  leash log collect   runs the collector alone, without the daemon (the
                      leash-log systemd service)
  leash log           prints that history (--since, --user) and exits
  leash log -f        follows: it tails the collector's history when a
                      collector runs for this group and namespace, and
                      otherwise reads the group itself, live (nothing is
                      kept when it exits)

An attempt is printed at its first packet; its retransmissions (same
user, protocol, source, destination and rule within 3 s) are folded in
and counted on a second line, "(N attempts until TIME)", once it is over. Messages the kernel could not
deliver (the reader fell behind) are never dropped silently: they are
counted from the kernel's sequence numbers and printed as
"!! N events lost (receive queue overflow)" (in JSON: {"type":"lost"}).
The process is looked up when the first packet arrives and may be missing
(a one-shot UDP sender that already closed its socket).

--json prints one JSON object per line (type "deny" or "lost"), for a SIEM.
Reading the group needs root (CAP_NET_ADMIN); so does the history, which
says who connected where.`

func logCmd(d Deps, g *globals) *cobra.Command {
	f := &logFlags{}
	cmd := &cobra.Command{
		Use:   "log [-f] [--since T] [--user U]",
		Short: "Show denied connection attempts (from the collector's history, or live)",
		Long:  logLong,
		Example: `  leash log --since 10m
  leash log --user apache --since 2026-11-21T08:00:00Z --json
  leash log -f`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.follow {
				return runLogFollow(cmd, d, g, f)
			}
			return runLogHistory(cmd.Context(), d, g, f)
		},
	}
	pf := cmd.PersistentFlags()
	pf.Uint16Var(&f.group, "nflog-group", 0, "NFLOG group to read (default: the applied policy's baseline.log.group, else 4242)")
	pf.StringVar(&f.dir, "log-dir", "", "history directory (default: STATE-DIR/log)")
	fl := cmd.Flags()
	fl.BoolVarP(&f.follow, "follow", "f", false, "keep printing new denials")
	fl.StringVar(&f.since, "since", "", "only attempts since T: a duration before now (10m, 2h) or an RFC 3339 time")
	fl.StringVar(&f.user, "user", "", "only attempts by this user name or uid")
	cmd.AddCommand(logCollectCmd(d, g, f))
	return cmd
}

func logCollectCmd(d Deps, g *globals, f *logFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "collect",
		Short: "Run the denial log collector (owns the NFLOG group, keeps the history)",
		Long: `Bind the NFLOG group and append every denied attempt (and every loss
report) as a JSON line to the history in --log-dir, until stopped
(SIGTERM or SIGINT). dist/systemd/leash-log.service runs it.

The history is a directory of segment files (000000000001.jsonl, ...): a
segment is closed at --segment-size MiB and the oldest are deleted beyond
--max-segments or --max-size MiB in all. Writes are fsynced at most twice a
second, so a power loss costs at most the last half second. One collector
per directory: a lock file (collector.lock) holds it, and tells leash log -f
which group and namespace it reads.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLogCollect(cmd, d, g, f)
		},
	}
	fl := cmd.Flags()
	decimalVar(fl, &f.segmentMiB, "segment-size", denylog.DefaultSegmentBytes>>20, 1<<20, "MiB per history segment")
	decimalVar(fl, &f.maxSegments, "max-segments", denylog.DefaultMaxSegments, 1<<20, "history segments kept")
	decimalVar(fl, &f.maxMiB, "max-size", denylog.DefaultMaxBytes>>20, 1<<30, "MiB of history kept in all")
	return cmd
}

// logDir is --log-dir, or the log directory under --state-dir.
func (f *logFlags) logDir(g *globals) string {
	if f.dir != "" {
		return f.dir
	}
	return filepath.Join(g.stateDir, "log")
}

// logGroup is --nflog-group when given, else the group the applied policy
// logs to, else the default.
func logGroup(cmd *cobra.Command, d Deps, g *globals, f *logFlags) uint16 {
	if cmd.Flags().Changed("nflog-group") {
		return f.group
	}
	return appliedLogGroup(d, g)
}

// appliedLogGroup is the group the applied policy logs to, else the
// default.
func appliedLogGroup(d Deps, g *globals) uint16 {
	if gen, _, err := engineFor(nil, d, g, nil).View(); err == nil && gen.Ruleset != nil {
		for _, c := range gen.Ruleset.Chains {
			for _, r := range c.Rules {
				if r.Verdict.Kind == ruleset.Log && r.Verdict.Log != nil {
					return r.Verdict.Log.Group
				}
			}
		}
	}
	return ruleset.DefaultLogGroup
}

// parseSince reads --since: empty (everything), a duration before now, or
// an RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, usage("--since %s: give a positive duration (10m means the last ten minutes)", s)
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, usage("--since %q: want a duration (10m, 2h) or an RFC 3339 time (2026-11-21T08:00:00Z)", s)
}

// runLogHistory prints the collector's history.
func runLogHistory(ctx context.Context, d Deps, g *globals, f *logFlags) error {
	since, err := parseSince(f.since, d.Now())
	if err != nil {
		return err
	}
	dir := f.logDir(g)
	print, err := logPrinter(ctx, d, g, f)
	if err != nil {
		return err
	}
	n := 0
	skipped, err := denylog.ReadHistory(dir, since, func(r denylog.Record) error {
		n++
		return print(r)
	})
	if err != nil {
		return rootHint(err)
	}
	if skipped > 0 {
		fmt.Fprintf(d.Stderr, "leash: %d malformed lines in %s skipped\n", skipped, dir)
	}
	if _, running, _ := denylog.RunningCollector(dir); !running {
		if n == 0 {
			return fmt.Errorf("no denial history in %s: start the collector (systemctl enable --now leash-daemon, or leash-log, or %s), or watch live with %s",
				dir, leashCommand(g, "log collect"), leashCommand(g, "log -f"))
		}
		fmt.Fprintf(d.Stderr, "leash: no collector is running: the history in %s may end early; start one with systemctl start leash-daemon (or leash-log)\n", dir)
	}
	return nil
}

// runLogFollow follows the history or the group live (denylog.Watch).
func runLogFollow(cmd *cobra.Command, d Deps, g *globals, f *logFlags) error {
	ctx := cmd.Context()
	since, err := parseSince(f.since, d.Now())
	if err != nil {
		return err
	}
	print, err := logPrinter(ctx, d, g, f)
	if err != nil {
		return err
	}
	log := logLogger(d)
	p, closeP, err := logPipeline(ctx, d, g, log)
	if err != nil {
		return err
	}
	defer closeP()
	group := logGroup(cmd, d, g, f)
	cfg := denylog.WatchConfig{Dir: f.logDir(g), Group: group, NetNS: g.netns, Since: since, Log: log}
	return rootHint(denylog.Watch(ctx, cfg, denyLogOpener(d, g, group, log), p, print))
}

// rootHint says what to do about a permission error: the history and the
// NFLOG group are root's.
func rootHint(err error) error {
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("%w (the denial log is root's: run leash log as root)", err)
	}
	return err
}

// runLogCollect runs the collector until the context ends.
func runLogCollect(cmd *cobra.Command, d Deps, g *globals, f *logFlags) error {
	if f.segmentMiB <= 0 || f.maxMiB <= 0 || f.maxSegments <= 0 {
		return usage("--segment-size, --max-size and --max-segments must be positive")
	}
	f.groupSet = cmd.Flags().Changed("nflog-group")
	return runCollector(cmd.Context(), d, g, f, nil, nil)
}

// runCollector runs the denial log collector (leash log collect, and the
// daemon's) until ctx ends; started and observe go into
// denylog.CollectConfig. Zero sizes in f are the defaults.
func runCollector(ctx context.Context, d Deps, g *globals, f *logFlags, started func(), observe func(denylog.Record)) error {
	log := logLogger(d)
	p, closeP, err := logPipeline(ctx, d, g, log)
	if err != nil {
		return err
	}
	defer closeP()
	group := f.group
	if !f.groupSet {
		group = appliedLogGroup(d, g) // read at every start: the daemon's collector follows the policy in force
	}
	lim := denylog.HistoryLimits{SegmentBytes: denylog.DefaultSegmentBytes, MaxSegments: denylog.DefaultMaxSegments, MaxBytes: denylog.DefaultMaxBytes}
	if f.segmentMiB > 0 {
		lim.SegmentBytes = f.segmentMiB << 20
	}
	if f.maxSegments > 0 {
		lim.MaxSegments = f.maxSegments
	}
	if f.maxMiB > 0 {
		lim.MaxBytes = f.maxMiB << 20
	}
	cfg := denylog.CollectConfig{
		Dir: f.logDir(g), Limits: lim,
		Group: group, NetNS: g.netns, Now: logClock(d), Log: log,
		Started: started, Observe: observe,
	}
	return denylog.Collect(ctx, cfg, denyLogOpener(d, g, group, log), p)
}

// logPipeline builds the pipeline with user names, process lookup (best
// effort) and the applied policy's origins; close releases the lookup.
func logPipeline(ctx context.Context, d Deps, g *globals, log *slog.Logger) (*denylog.Pipeline, func(), error) {
	env, err := d.Env(ctx, g.envOptions())
	if err != nil {
		return nil, nil, fmt.Errorf("load users: %w", err)
	}
	clock := logClock(d)
	en := &denylog.Enricher{
		Rules: (&denylog.CurrentRules{Store: engine.Generations{E: engineFor(nil, d, g, nil)}, Now: clock, Every: 2 * time.Second}).Book,
	}
	if env.Directory != nil {
		en.Users = denylog.UserNames(env.Directory)
	}
	closeP := func() {}
	if d.OpenProcessLookup != nil {
		procs, err := d.OpenProcessLookup(g.netns)
		if err != nil {
			log.Warn("no process lookup: the process column stays empty", "err", err)
		} else {
			en.Processes, closeP = procs, func() { procs.Close() }
		}
	}
	return denylog.NewPipeline(en, clock, log), closeP, nil
}

// denyLogOpener binds the group in --netns's namespace.
func denyLogOpener(d Deps, g *globals, group uint16, log *slog.Logger) denylog.Opener {
	return func() (denylog.Source, error) {
		if d.OpenDenyLog == nil {
			return nil, errNoDenyLog
		}
		src, err := d.OpenDenyLog(g.netns, group, log)
		if err != nil {
			return nil, fmt.Errorf("read the denial log: %w", err)
		}
		return src, nil
	}
}

// logClock is the real time: attempts end and events are stamped for real
// even where Now is fixed (tests).
func logClock(d Deps) func() time.Time {
	if d.Clock != nil {
		return d.Clock.Now
	}
	return d.Now
}

func logLogger(d Deps) *slog.Logger {
	return slog.New(slog.NewTextHandler(d.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// logPrinter returns the function that prints one record as text or as a
// JSON line, keeping only --user's events (loss reports always print).
func logPrinter(ctx context.Context, d Deps, g *globals, f *logFlags) (func(denylog.Record) error, error) {
	keep := logUserFilter(ctx, d, g, f.user)
	return func(r denylog.Record) error {
		if r.Event != nil && !keep(r.Event) {
			return nil
		}
		return printRecord(d.Stdout, r, g.json)
	}, nil
}

func printRecord(w io.Writer, r denylog.Record, asJSON bool) error {
	if asJSON {
		b, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encode JSON: %w", err)
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	_, err := fmt.Fprintln(w, denylog.Format(r, time.Local))
	return err
}

// logUserFilter matches events of user (a name or uid); everything when
// empty. A known name also matches its uid (events logged while the name was
// unknown), an unknown one only events that carry the name.
func logUserFilter(ctx context.Context, d Deps, g *globals, user string) func(*denylog.Event) bool {
	if user == "" {
		return func(*denylog.Event) bool { return true }
	}
	var dir *identity.Directory // without a user database, only uids are known
	if env, err := d.Env(ctx, g.envOptions()); err == nil {
		dir = env.Directory
	}
	var uid *uint32
	if u, _, err := dir.UserArg(user); err == nil {
		uid = &u.UID
	}
	return func(e *denylog.Event) bool {
		return e.User == user || (uid != nil && e.UID != nil && *e.UID == *uid)
	}
}

// errNoDenyLog says the binary was built without a denial log reader.
var errNoDenyLog = errors.New("this leash cannot read the denial log")
