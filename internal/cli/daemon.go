package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/daemon"
	"github.com/leash-dev/leash/internal/engine"
	"github.com/leash-dev/leash/internal/hostrefresh"
	"github.com/leash-dev/leash/internal/localapi"
	"github.com/leash-dev/leash/internal/metrics"
	"github.com/leash-dev/leash/internal/nft"
	"github.com/leash-dev/leash/internal/resolve"
	"github.com/leash-dev/leash/internal/state"
)

func daemonCmd(d Deps, g *globals) *cobra.Command {
	var (
		repairEvery time.Duration
		metricsAddr string
		noLog       bool
		lf          = &logFlags{}
		hosts       hostrefresh.Config
		noOwn       bool
	)
	cmd := &cobra.Command{
		Use:   "daemon [FILE]",
		Short: "Keep the kernel in step with the policy file, users and groups (leash-daemon.service)",
		Long: `Run until stopped, keeping table inet leash true while the world changes:

  - FILE (default: the file the current generation was applied from) is
    applied when it changes; an invalid edit is reported and the
    generation in force stays; while a confirmation is pending the file
    waits until it is confirmed or reverted;
  - /etc/passwd and /etc/group changes recompile the current policy
    (leash reapply);
  - SIGHUP does both at once;
  - with --no-own, a table another tool removed or changed (nft flush
    ruleset, systemctl restart nftables, nft add rule) is loaded again
    within a second of the netfilter event, and at the latest every
    --repair-every (owned, the table cannot be changed by anyone else);
  - every hostname of the policy is looked up again at its TTL (clamped to
    --dns-floor and --dns-ceiling); the policy is compiled again with the
    new answers and only the elements that differ change (a change of
    the table's layout replaces it as a new generation); an
    address that left the answer stays while connections to it live and
    for --dns-grace; a failed lookup keeps the last good addresses, which
    are recorded (hosts.json) for a restart and for leash status. The
    daemon's DNS queries carry a socket mark the table accepts to the
    configured resolvers before any policy rule, so a policy that denies
    root's DNS does not stop them.

Every change goes through the same lock and records as the commands do,
so leash apply, confirm and rollback keep working while the daemon runs.
The daemon also hosts the denial log collector (what leash log collect
does: leash log and leash log -f read its history in --log-dir), unless
--no-log; while another collector holds the directory it waits and takes
over when that one stops. With --metrics ADDR it serves Prometheus
metrics at http://ADDR/metrics: ADDR is a loopback HOST:PORT
(127.0.0.1:9425) or unix:PATH; see docs/metrics.md.

The daemon owns the table (nftables owner and persist flags, on one
netlink socket it keeps open): while it runs, no other process can change,
delete or flush table inet leash (nft flush ruleset skips it), and leash
apply, confirm, rollback, reset and status go through the daemon. If the
daemon stops or is killed, the kernel keeps enforcing the last table, the
commands work directly again, and the next daemon takes the table over.
With --no-own the table is not owned (direct mode): other tools can change
it, and the daemon watches netfilter events and repairs what they do within
a second. Under
systemd (Type=notify) it reports READY, RELOADING, STOPPING and STATUS
and feeds the watchdog.`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			file := ""
			if len(args) == 1 {
				file = args[0]
				if err := trustedInputs(g, file); err != nil {
					return err
				}
			}
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			log := slog.New(slog.NewTextHandler(d.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
			eng := engineFor(cmd, d, g, args)
			owns := func() bool { return false }
			owning := !noOwn && d.OpenOwningKernel != nil
			var owner daemon.OwningKernel
			if owning {
				k, err := d.OpenOwningKernel(g.netns)
				if err != nil {
					return fmt.Errorf("connect to nftables: %w (leash needs root or CAP_NET_ADMIN)", err)
				}
				defer k.Close() // the table stays, orphaned, in force
				daemon.Own(eng, k)
				owns = func() bool { mine, _ := k.Owns(); return mine }
				owner = k
			}
			var m *metrics.Metrics
			if metricsAddr != "" {
				l, err := metrics.Listen(metricsAddr)
				if err != nil {
					return usage("--metrics: %v", err)
				}
				m = metrics.New(metrics.Options{Counters: eng.CounterReader(), Clock: d.Clock})
				served := make(chan struct{})
				defer func() { cancel(); <-served }()
				go func() {
					defer close(served)
					if err := m.Serve(ctx, l); err != nil {
						fmt.Fprintf(d.Stderr, "leash: metrics: %v\n", err)
					}
				}()
			}
			var collect func(context.Context, uint16, func()) error
			if !noLog {
				collect = func(ctx context.Context, group uint16, started func()) error {
					f := *lf
					f.group, f.groupSet = group, true
					return runCollector(ctx, d, g, &f, started, m.Logged)
				}
			}
			w, err := d.NewWatcher()
			if err != nil {
				return err
			}
			defer w.Close()
			reload := make(chan struct{}, 1)
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			go func() {
				for range hup {
					select {
					case reload <- struct{}{}:
					default:
					}
				}
			}()
			var watchdog time.Duration
			if d.Watchdog != nil {
				watchdog = d.Watchdog()
			}
			hosts.Observe = m.DNSRefreshed // nil m records nothing
			refresher, err := hostRefresher(ctx, d, g, eng, hosts, log)
			if err != nil {
				return err
			}
			recompile := func(ctx context.Context, cur *state.Generation) (*engine.Compiled, error) {
				return compileSource(ctx, d, g, cur.PolicyFile, cur.Policy)
			}
			stop, err := serveLocalAPI(ctx, d, g, eng, owns, recompile, log)
			if err != nil {
				return err
			}
			defer stop()
			// The netfilter monitor only in direct mode: an owned table
			// cannot be changed by anyone else, and a listener on the
			// nf_tables group makes the kernel build a notification for
			// every object of every transaction (a 100,000-entry replace
			// takes about 2x as long).
			var watch func(context.Context, chan<- nft.TableChange) error
			if d.WatchTable != nil && !owning {
				watch = func(ctx context.Context, ch chan<- nft.TableChange) error { return d.WatchTable(ctx, g.netns, ch) }
			}
			cg, err := daemonCgroups(d)
			if err != nil {
				return err
			}
			if cg != nil {
				defer cg.Watch.Close()
			}
			return daemon.Run(ctx, daemon.Config{
				Cgroups:    cg,
				WatchTable: watch,
				Owner:      owner,
				Engine:     eng,
				Hosts:      refresher,
				Policy:     file,
				Compile: func(ctx context.Context, path string, src []byte) (*engine.Compiled, error) {
					return compileSource(ctx, d, g, path, src)
				},
				// Checked at every read, not only at start: a policy
				// file that became writable by others since must not
				// be applied by itself when someone edits it.
				ReadFile: func(path string) ([]byte, error) {
					if err := trustedInputs(g, path); err != nil {
						return nil, err
					}
					return d.ReadFile(path)
				},
				Watcher:      w,
				ReapplyFiles: reapplyFiles(g),
				Clock:        d.Clock,
				RepairEvery:  repairEvery,
				Watchdog:     watchdog,
				Notify:       d.Notify,
				Reload:       reload,
				Log:          log,
				Metrics:      m,
				Collect:      collect,
				LogGroup:     func() uint16 { return appliedLogGroup(d, g) },
			})
		},
	}
	cmd.Flags().StringVar(&metricsAddr, "metrics", "", "serve Prometheus metrics on this loopback HOST:PORT (127.0.0.1:9425) or unix:PATH (default: off)")
	cmd.Flags().BoolVar(&noLog, "no-log", false, "do not host the denial log collector (leash log collect)")
	cmd.Flags().StringVar(&lf.dir, "log-dir", "", "denial log history directory (default: STATE-DIR/log)")
	cmd.Flags().BoolVar(&noOwn, "no-own", false, "do not own the table (direct mode): other tools may change it, and the daemon repairs it")
	cmd.Flags().DurationVar(&repairEvery, "repair-every", daemon.DefaultRepairEvery, "how often to check that the kernel still holds the table in force, and load it again if not")
	cmd.Flags().DurationVar(&hosts.Floor, "dns-floor", hostrefresh.DefaultFloor, "refresh a hostname at most this often, whatever its TTL (also the retry after a failed lookup)")
	cmd.Flags().DurationVar(&hosts.Ceiling, "dns-ceiling", hostrefresh.DefaultCeiling, "refresh a hostname at least this often, whatever its TTL")
	cmd.Flags().DurationVar(&hosts.Grace, "dns-grace", hostrefresh.DefaultGrace, "keep an address that left a hostname's answer at least this long (and while connections to it live)")
	decimalVar(cmd.Flags(), &hosts.MaxAddrs, "dns-max-addrs", hostrefresh.DefaultMaxAddrs, 1<<16, "at most this many addresses per hostname")
	return cmd
}

// hostRefresher is the daemon's hostname refresher: the DNS resolver of
// the environment (marked: the DNS exemption), the namespace's live
// connections, the engine's refresh (the stored policy compiled again with
// the refreshed answers) and its state directory.
func hostRefresher(ctx context.Context, d Deps, g *globals, e *engine.Engine, cfg hostrefresh.Config, log *slog.Logger) (daemon.HostRefresher, error) {
	env, err := d.Env(ctx, g.envOptions())
	if err != nil {
		return nil, err
	}
	r, ok := env.Resolver.(hostrefresh.Resolver)
	if !ok {
		log.Warn("the resolver gives no TTLs: hostnames are not refreshed")
		return nil, nil
	}
	cfg.Resolver, cfg.Store, cfg.Clock, cfg.Log = r, e.Store, d.Clock, log
	cfg.Updater = hostrefresh.EngineUpdater{Engine: e, Fallback: env.Resolver,
		Compile: func(ctx context.Context, path string, src []byte, r resolve.Resolver) (*engine.Compiled, error) {
			env, err := d.Env(ctx, g.envOptions())
			if err != nil {
				return nil, fmt.Errorf("load users, groups and services: %w", err)
			}
			env.Resolver = r
			return engine.Compile(ctx, env, path, src)
		}}
	if d.LiveConns != nil {
		cfg.Conns = d.LiveConns(g.netns)
	}
	return hostrefresh.New(cfg), nil
}

// reapplyFiles are the files whose changes recompile the policy in force:
// the user database (--passwd/--group, or the system's), and resolv.conf
// unless --resolver names the server, with the file a symlink there leads
// to (systemd-resolved's and NetworkManager's live in /run).
func reapplyFiles(g *globals) []string {
	files := []string{"/etc/passwd", "/etc/group"}
	if g.passwd != "" || g.group != "" {
		files = []string{g.passwd, g.group}
	}
	if g.resolver == "" {
		files = append(files, resolve.DefaultResolvConfPath)
		if target, err := filepath.EvalSymlinks(resolve.DefaultResolvConfPath); err == nil && target != resolve.DefaultResolvConfPath {
			files = append(files, target)
		}
	}
	return files
}

// serveLocalAPI answers the command line on the state directory's socket
// (localapi) until stop is called; stop waits for the server to end.
func serveLocalAPI(ctx context.Context, d Deps, g *globals, e *engine.Engine, owns func() bool, recompile engine.Recompile, log *slog.Logger) (stop func(), err error) {
	if err := os.MkdirAll(g.stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	ln, err := localapi.Listen(localapi.SocketPath(g.stateDir))
	if err != nil {
		return nil, err
	}
	srv := &localapi.Server{Engine: e, Daemon: engine.Daemon{PID: os.Getpid(), Since: d.Clock.Now()}, Owns: owns, Recompile: recompile, Log: log}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ctx, ln); err != nil {
			log.Error("the command line's socket stopped; commands work directly only while the daemon does not own the table", "err", err)
		}
	}()
	return func() { cancel(); <-done }, nil
}
