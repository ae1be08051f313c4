// Package cli implements leash's command line. Every side effect (kernel,
// policy environment, state, clock, output) comes in through Deps, so the
// commands are tested with fakes and cmd/leash is only wiring.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/cgroups"
	"github.com/leash-dev/leash/internal/clock"
	"github.com/leash-dev/leash/internal/daemon"
	"github.com/leash-dev/leash/internal/denylog"
	"github.com/leash-dev/leash/internal/engine"
	"github.com/leash-dev/leash/internal/hostrefresh"
	"github.com/leash-dev/leash/internal/nft"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/safefile"
	"github.com/leash-dev/leash/internal/state"
	"github.com/leash-dev/leash/internal/termtext"
)

// EnvOptions select where names are resolved.
type EnvOptions struct {
	// Resolver is a DNS server (host:port) to use instead of resolv.conf's.
	Resolver string
	// NetNS, when set, is the namespace DNS queries are sent from.
	NetNS string
	// DNSTimeout bounds all the hostname lookups of one compile (0: the
	// resolver's default).
	DNSTimeout time.Duration
	// NoHostsFile skips /etc/hosts (the sandbox's DNS is the only source).
	NoHostsFile bool
	// Passwd and Group, when set, are user and group files to use instead
	// of the system's database.
	Passwd, Group string
}

// Deps are the side effects the commands use.
type Deps struct {
	Stdout, Stderr io.Writer
	// Env loads users, groups, services and a resolver.
	Env func(ctx context.Context, opt EnvOptions) (policy.Env, error)
	// OpenKernel connects to nftables in the named network namespace
	// ("" = the current one).
	OpenKernel func(netns string) (Kernel, error)
	// OpenOwningKernel connects to nftables in the named namespace with
	// one long-lived socket that owns leash's table (nft.Owning): leash
	// daemon's connection. nil: the daemon runs without owning the table
	// (as with --no-own).
	OpenOwningKernel func(netns string) (daemon.OwningKernel, error)
	// WatchTable reports the kernel transactions that touch leash's table
	// in the named namespace until ctx ends (nft.Conn.Watch), for leash
	// daemon's drift repair; nil: the periodic full pass only.
	WatchTable func(ctx context.Context, netns string, changes chan<- nft.TableChange) error
	// LocalAddrs lists the addresses of this host (or of the namespace), to
	// tell which destinations are reached over loopback.
	LocalAddrs func(netns string) ([]netip.Addr, error)
	// RouteOif names the interface a connection to dst leaves through in
	// the namespace ("" without a route), for check's via rules when
	// --out is not given; nil: unknown.
	RouteOif func(netns string, dst netip.Addr) (string, error)
	ReadFile func(path string) ([]byte, error)
	Now      func() time.Time
	// ProbeCommand runs one sandbox probe: argv prefix of `leash sandbox-probe`.
	ProbeCommand []string
	// Sockets lists the TCP and UDP sockets of the named network namespace
	// ("" = the current one), in every state, with the processes holding
	// them (sockowner.Lookup.List).
	Sockets func(ctx context.Context, netns string) ([]OwnedSocket, error)
	// Clock is the real time, for confirmation deadlines and waits (Now
	// may be fixed in tests; deadlines must pass for real, or by a
	// clock.Fake).
	Clock clock.Clock
	// Spawn starts this leash with args as a detached process (own session,
	// stdin /dev/null, stdout and stderr appended to logPath; outside the
	// caller's login session where systemd runs) and returns its pid
	// without waiting: the reverter of `apply --confirm`.
	Spawn func(args []string, logPath string) (int, error)
	// Getenv reads the environment (SSH_CONNECTION, for the lock-out
	// warning of apply); nil reads nothing.
	Getenv func(string) string
	// NewWatcher starts a file watcher for leash daemon (inotify).
	NewWatcher func() (daemon.Watcher, error)
	// Cgroups finds the host's cgroup2 hierarchy (nil or an error: none;
	// units and cgroups subjects then never match).
	Cgroups func() (*cgroups.FS, error)
	// Notify sends a systemd notification (sd_notify); nil: none.
	Notify func(state string)
	// Watchdog is how often leash daemon must feed systemd's watchdog (0:
	// no watchdog); nil: none.
	Watchdog func() time.Duration
	// Namespace identifies the named network namespace ("" = the one
	// leash runs in), recorded with every generation.
	Namespace func(name string) (*state.Namespace, error)
	// Running reports whether pid is a live process whose command line
	// contains marker (detach.Running): is a reverter still there.
	Running func(pid int, marker string) bool
	// Executable is the path of the running leash binary (install-service
	// writes its directory into the units unless --bindir is given).
	Executable string
	// Systemctl runs systemctl with args; an error wrapping exec.ErrNotFound
	// means the host has none.
	Systemctl func(ctx context.Context, args ...string) error
	// OpenDenyLog binds the NFLOG group in the named network namespace
	// ("" = the current one) for leash log (denylog.OpenReader).
	OpenDenyLog func(netns string, group uint16, log *slog.Logger) (denylog.Source, error)
	// OpenProcessLookup finds the processes holding logged packets'
	// sockets in the named namespace; nil leaves leash log's process column
	// empty.
	OpenProcessLookup func(netns string) (ProcessLookup, error)
	// LiveConns tells which remote addresses the named namespace has live
	// connections to (hostrefresh.SocketConns), so that leash daemon keeps
	// a hostname's departed address while they last; nil: none are kept
	// beyond the grace period.
	LiveConns func(netns string) hostrefresh.Conns
}

// globals are the flags every command shares.
type globals struct {
	json     bool
	stateDir string
	resolver string
	netns    string
	passwd   string
	group    string
	// lockTimeout is how long to wait for another leash holding the lock.
	lockTimeout time.Duration

	// dnsTimeout bounds all the hostname lookups of one compile.
	dnsTimeout time.Duration
	// ns is the network namespace leash works in (nil: the host's, or not
	// known); forceNetNS acts on another namespace's records anyway.
	ns         *state.Namespace
	forceNetNS bool
	// at, when set (check --at), is the time policies' windows are
	// compiled from instead of the clock's (when.go).
	at time.Time
}

// resolveNamespace finds the namespace leash works in and, unless
// --state-dir was given, that namespace's own state directory: the host's
// namespace keeps the default, another gets DEFAULT/netns/NAME, so that a
// container's generations never land in the host's (where the host's boot
// would restore them).
func (g *globals) resolveNamespace(cmd *cobra.Command, d Deps) {
	if d.Namespace == nil {
		return
	}
	ns, err := d.Namespace(g.netns)
	if err != nil {
		return // unknown (no privileges to tell): the host's
	}
	g.ns = ns
	if !cmd.Flags().Changed("state-dir") {
		g.stateDir = state.DirFor(state.DefaultDir, ns)
	}
}

func (g *globals) store() *state.Store { return &state.Store{Dir: g.stateDir} }

func (g *globals) envOptions() EnvOptions {
	return EnvOptions{Resolver: g.resolver, DNSTimeout: g.dnsTimeout, NetNS: g.netns, Passwd: g.passwd, Group: g.group}
}

// New builds the root command.
func New(d Deps) *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "leash",
		Short: "Per-user egress firewall: a declarative policy, enforced by nftables",
		Long: `leash decides which outgoing connections each user, group and everyone else
may open, and makes the kernel enforce it. One policy file compiles to one
nftables table, inet leash, replaced atomically.

Exit status: 0 success; 1 failure (or, for check, denied); 2 invalid input.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Runnable only to refuse an unknown command as invalid input
		// (exit 2); without arguments it prints the help.
		Args:                       cobra.ArbitraryArgs,
		SuggestionsMinimumDistance: 2,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += "; did you mean " + strings.Join(s, " or ") + "?"
			}
			return &exitError{code: 2, err: errors.New(termtext.Escape(msg))}
		},
		PersistentPreRun: func(cmd *cobra.Command, args []string) {
			g.resolveNamespace(cmd, d)
		},
	}
	root.SetOut(d.Stdout)
	root.SetErr(d.Stderr)
	// An unknown flag or a bad flag value is invalid input: exit 2.
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &exitError{code: 2, err: err} })
	pf := root.PersistentFlags()
	pf.BoolVar(&g.json, "json", false, "print data as JSON")
	pf.StringVar(&g.stateDir, "state-dir", state.DefaultDir, "where applied generations are stored (in another network namespace than the host's, the default is "+state.DefaultDir+"/netns/NAME)")
	pf.StringVar(&g.resolver, "resolver", "", "DNS server HOST:PORT for hostnames (default: from /etc/resolv.conf)")
	pf.DurationVar(&g.dnsTimeout, "dns-timeout", 30*time.Second, "how long all the hostname lookups of one policy may take together")
	pf.StringVar(&g.netns, "netns", "", "operate in the named network namespace (/run/netns/NAME)")
	pf.StringVar(&g.passwd, "passwd", "", "read users from this passwd(5) file instead of the system database (with --group)")
	pf.StringVar(&g.group, "group", "", "read groups from this group(5) file instead of the system database (with --passwd)")
	pf.BoolVar(&g.forceNetNS, "force-netns", false, "act on a state directory whose records are another network namespace's (taking it over)")
	pf.DurationVar(&g.lockTimeout, "lock-timeout", 30*time.Second, "how long to wait for another leash that holds the state directory's lock")
	root.AddCommand(
		validateCmd(d, g), lintCmd(d, g), exportCmd(d, g), planCmd(d, g), applyCmd(d, g),
		showCmd(d, g), resetCmd(d, g), checkCmd(d, g), testCmd(d, g), sandboxProbeCmd(d),
	)
	root.AddCommand(connsCmd(d, g))
	root.AddCommand(statusCmd(d, g))
	root.AddCommand(historyCmd(d, g), rollbackCmd(d, g), confirmCmd(d, g), revertPendingCmd(d, g),
		restoreCmd(d, g), reapplyCmd(d, g), installServiceCmd(d, g))
	root.AddCommand(logCmd(d, g))
	root.AddCommand(daemonCmd(d, g))
	root.AddCommand(runCmd(d, g))
	return root
}

// ExitCode maps an error returned by the command tree to an exit status:
// 0 success, 1 failure, 2 invalid input, 130 interrupted before anything
// changed.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ec *exitError
	if errors.As(err, &ec) {
		return ec.code
	}
	if errors.Is(err, engine.ErrInterrupted) || errors.Is(err, context.Canceled) {
		return 130 // 128 + SIGINT, as shells report an interrupted command
	}
	var pl policy.ErrorList
	var fe *safefile.Error
	if errors.As(err, &pl) || errors.As(err, &fe) {
		return 2
	}
	return 1
}

// exitError carries an exit status; a nil err means "exit quietly with code".
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// usageArgs is check with its complaint marked as invalid input (exit 2),
// like every other mistake on the command line.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return &exitError{code: 2, err: err}
		}
		return nil
	}
}

// usage marks err as invalid input (exit 2).
func usage(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

// Report prints err for a person: policy errors one per line as
// FILE:LINE:COL: message (the format editors jump to), anything else as
// "leash: message". Errors that only carry an exit status (check's
// "denied", already explained on stdout) print nothing. Messages may quote
// paths, names and kernel or DNS text: each is escaped with termtext.Escape
// (one policy error is one line).
func Report(w io.Writer, err error) {
	var ec *exitError
	if err == nil || (errors.As(err, &ec) && ec.err == nil) {
		return
	}
	var pl policy.ErrorList
	if errors.As(err, &pl) {
		pl.Sort()
		for _, e := range pl {
			fmt.Fprintln(w, termtext.Escape(e.Error()))
		}
		fmt.Fprintf(w, "leash: %d error(s); nothing was changed\n", len(pl))
		return
	}
	fmt.Fprintln(w, "leash: "+escapeLines(err.Error()))
}

// escapeLines escapes each line of s (errors joined with errors.Join stay
// one per line).
func escapeLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = termtext.Escape(l)
	}
	return strings.Join(lines, "\n")
}
