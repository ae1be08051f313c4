// Package daemon is `leash daemon`: one long-running process that keeps
// the kernel in step with a changing world while the kernel, not the
// daemon, enforces (if the daemon dies, the table stays: fail-closed).
//
// It is a reconciler in the manner of cilium's: the desired state is the
// current generation (and the policy file it came from); triggers move it
// (the policy file is edited, users and groups change, SIGHUP), and a
// periodic full pass repairs drift (another tool flushed or edited the
// table). Every change goes through the engine, under its lock, exactly as
// the command line's: the CLI keeps working while the daemon runs.
//
// What it does on each trigger:
//
//   - policy file changed (or SIGHUP): compile it with today's users,
//     groups, services and DNS; a valid one is applied (an unchanged one
//     records nothing), an invalid one is reported and the generation in
//     force stays; while a confirmation is pending the file is left for
//     after it is settled, so the daemon never drops an admin's safety net;
//   - /etc/passwd or /etc/group changed (or SIGHUP): reapply (recompile the
//     current generation's stored policy);
//   - a netfilter event says another process changed or removed the
//     table (WatchTable): engine.Repair within DriftSettle;
//   - every RepairEvery: engine.Repair (load the current generation's
//     table again if the kernel does not hold it), a deferred file
//     change is retried, and time windows about to end are renewed
//     (windows.go);
//   - systemd: READY=1 once the table is restored, RELOADING=1 around a
//     SIGHUP, STATUS= with what is in force or why a file was refused,
//     WATCHDOG=1 every Watchdog, STOPPING=1 on the way out.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/leash-dev/leash/internal/clock"
	"github.com/leash-dev/leash/internal/engine"
	"github.com/leash-dev/leash/internal/metrics"
	"github.com/leash-dev/leash/internal/nft"
	"github.com/leash-dev/leash/internal/state"
)

// Defaults.
const (
	DefaultRepairEvery = 5 * time.Second
	// Debounce gathers the burst of events an editor's save makes.
	Debounce = 200 * time.Millisecond
)

// Watcher reports changes of watched files. Watch watches path (a file;
// implementations watch its directory, so an editor's rename-over counts)
// and is idempotent; Events delivers the cleaned paths of watched files
// that changed.
type Watcher interface {
	Watch(path string) error
	Events() <-chan string
	Close() error
}

// Config is what the daemon runs with.
type Config struct {
	Engine *engine.Engine
	// Policy is the policy file to enforce and watch; "" means the one the
	// current generation was applied from.
	Policy string
	// Compile compiles a policy's source with today's users, groups,
	// services and DNS (errors: a policy.ErrorList).
	Compile  func(ctx context.Context, path string, src []byte) (*engine.Compiled, error)
	ReadFile func(path string) ([]byte, error)
	Watcher  Watcher
	// ReapplyFiles are the files whose changes recompile the policy in
	// force (a reapply): the user database (/etc/passwd, /etc/group), and
	// resolv.conf when leash's DNS servers come from it (the table's DNS
	// exemption names them).
	ReapplyFiles []string
	Clock        clock.Clock
	RepairEvery  time.Duration
	// Watchdog is how often WATCHDOG=1 is sent (0: never).
	Watchdog time.Duration
	// Notify sends a systemd notification (sd_notify state); nil: none.
	Notify func(state string)
	// Reload delivers SIGHUP.
	Reload <-chan struct{}
	// WatchTable, when set, reports the kernel transactions that touch
	// leash's table until ctx ends (nft.Conn.Watch): a foreign change or
	// a removal is repaired within DriftSettle, not at the next periodic
	// pass. nil: the periodic pass only.
	WatchTable func(ctx context.Context, changes chan<- nft.TableChange) error
	// Owner, when set, is the owning connection the engine uses (Own):
	// while it owns the table, most periodic passes are a cheap check of
	// that (see periodic).
	Owner OwningKernel
	Log   *slog.Logger
	// Metrics records applies, repairs and readiness (nil: none); the
	// hostname refresher records through Metrics.DNSRefreshed.
	Metrics *metrics.Metrics
	// Collect runs the denial log collector on NFLOG group until ctx ends
	// (nil: none), calling started once it holds the history and the
	// group; LogGroup is the group the policy in force logs to. See
	// collector.go.
	Collect  func(ctx context.Context, group uint16, started func()) error
	LogGroup func() uint16
	// Hosts refreshes the hostnames' addresses in the table by TTL (hosts.go); nil: none.
	Hosts HostRefresher
	// Cgroups, if set, keeps the cgroup sets of units and cgroups
	// subjects fresh (cgroups.go).
	Cgroups *Cgroups
}

// daemon is Run's state.
type daemon struct {
	Config
	policy string // the file being enforced and watched
	// deferred: a file change waits for a pending confirmation.
	deferred bool
	// hostsKick wakes the host refresher (hosts.go).
	hostsKick chan struct{}
	owned     ownedPasses
	cg        *cgroupKeeper
	// renewed is the last attempt to renew time windows (windows.go).
	renewed time.Time
}

// Run runs the daemon until ctx ends. It returns an error only when it
// cannot start (nothing to enforce and no file given).
func Run(ctx context.Context, cfg Config) error {
	if cfg.RepairEvery <= 0 {
		cfg.RepairEvery = DefaultRepairEvery
	}
	d := &daemon{Config: cfg}
	changes := d.watchTable(ctx) // before start: no change is missed
	if err := d.start(ctx); err != nil {
		return err
	}
	defer d.notify("STOPPING=1")
	defer d.Metrics.Ready(false)
	defer d.hostCollector(ctx)()
	defer d.startHosts(ctx)()
	repair := d.Clock.After(d.RepairEvery)
	var watchdog <-chan time.Time
	if d.Watchdog > 0 {
		watchdog = d.Clock.After(d.Watchdog)
	}
	var settle <-chan time.Time  // debounce of file events
	var drifted <-chan time.Time // a foreign change: repair soon
	var fileChanged, envChanged bool
	for {
		select {
		case <-ctx.Done():
			return nil
		case p := <-d.Watcher.Events():
			switch {
			case p == d.policy:
				fileChanged = true
			case d.isReapplyFile(p):
				envChanged = true
			default:
				continue
			}
			if settle == nil {
				settle = d.Clock.After(Debounce)
			}
		case <-settle:
			settle = nil
			d.react(ctx, fileChanged, envChanged)
			fileChanged, envChanged = false, false
			d.keepCgroups(ctx)
		case <-d.Reload:
			d.notify("RELOADING=1")
			d.react(ctx, true, true)
			d.keepCgroups(ctx)
			d.notify("READY=1")
		case ch := <-changes:
			if d.foreignChange(ch) && drifted == nil {
				drifted = d.Clock.After(DriftSettle)
			}
		case <-drifted:
			drifted = nil
			d.repair(ctx)
		case <-d.cgroupChanged():
			d.keepCgroups(ctx)
		case <-repair:
			d.periodic(ctx)
			d.keepCgroups(ctx)
			repair = d.Clock.After(d.RepairEvery)
		case <-watchdog:
			d.notify("WATCHDOG=1")
			watchdog = d.Clock.After(d.Watchdog)
		}
	}
}

// start makes the kernel hold the current generation's table (a full
// pass: recovery of an interrupted change as any command does, then
// engine.Repair; at boot, leash.service's restore has run first), applies
// Policy if given, and starts watching.
func (d *daemon) start(ctx context.Context) error {
	d.owned.inSync = d.repair(ctx)
	d.policy = d.Policy
	if d.policy == "" {
		if gen, _, err := d.Engine.View(); err == nil && gen.PolicyFile != "" {
			d.policy = gen.PolicyFile
		}
	}
	if d.policy == "" {
		return errors.New("daemon: nothing to enforce: no generation was applied from a policy file; give the file: leash daemon FILE")
	}
	if abs, err := filepath.Abs(d.policy); err == nil {
		d.policy = abs
	}
	for _, p := range append([]string{d.policy}, d.ReapplyFiles...) {
		if err := d.Watcher.Watch(p); err != nil {
			d.Log.Warn("cannot watch a file; its changes are picked up by SIGHUP only", "file", p, "err", err)
		}
	}
	if d.Policy != "" {
		d.applyFile(ctx)
	} else {
		d.status()
	}
	d.keepCgroups(ctx)
	d.notify("READY=1")
	d.Metrics.Ready(true)
	return nil
}

func (d *daemon) isReapplyFile(p string) bool {
	for _, f := range d.ReapplyFiles {
		if filepath.Clean(f) == p {
			return true
		}
	}
	return false
}

// react carries out what changed: the file first (it may change the
// policy that a reapply would recompile), then the environment the policy
// is compiled with (ReapplyFiles: users and groups, resolv.conf).
func (d *daemon) react(ctx context.Context, file, env bool) {
	applied := false
	if file {
		applied = d.applyFile(ctx)
	}
	if env && !applied {
		d.reapply(ctx)
	}
}

// applyFile compiles and applies the policy file; it reports whether the
// file was applied (or already in force).
func (d *daemon) applyFile(ctx context.Context) bool {
	if p := d.Engine.Pending(); p != nil {
		d.deferred = true
		d.Log.Info("a confirmation is pending: the policy file is applied once it is confirmed or reverted", "pending", p.String())
		return false
	}
	d.deferred = false
	began := d.Clock.Mono()
	src, err := d.ReadFile(d.policy)
	if err == nil {
		var c *engine.Compiled
		if c, err = d.Compile(ctx, d.policy, src); err == nil {
			var res *engine.ApplyResult
			if res, err = d.Engine.Apply(ctx, c, engine.ApplyOptions{}); err == nil {
				if !res.Unchanged {
					d.Log.Info("applied", "policy", d.policy, "generation", res.Generation)
					d.kickHosts()
				}
				d.Metrics.Applied(metrics.TriggerFile, applyResult(res.Unchanged), d.Clock.Mono()-began)
				d.status()
				return true
			}
		}
	}
	d.Log.Error("the policy file was not applied; the generation in force stays", "policy", d.policy, "err", err)
	d.Metrics.Applied(metrics.TriggerFile, metrics.ResultFailed, d.Clock.Mono()-began)
	d.notify(fmt.Sprintf("STATUS=%s was not applied (%s); %s", d.policy, firstLine(err), d.inForce()))
	return false
}

// reapply recompiles the current generation's policy with today's users,
// groups and hostnames.
func (d *daemon) reapply(ctx context.Context) {
	began := d.Clock.Mono()
	res, err := d.Engine.Reapply(ctx, func(ctx context.Context, cur *state.Generation) (*engine.Compiled, error) {
		return d.Compile(ctx, cur.PolicyFile, cur.Policy)
	})
	switch {
	case err != nil:
		d.Log.Error("reapply: the generation in force stays", "err", err)
		d.Metrics.Applied(metrics.TriggerReapply, metrics.ResultFailed, d.Clock.Mono()-began)
		return
	case res.Changed:
		d.Log.Info("reapplied", "source", res.Source.ID, "generation", res.Generation)
		d.kickHosts()
	}
	if res.Nothing == "" {
		d.Metrics.Applied(metrics.TriggerReapply, applyResult(!res.Changed), d.Clock.Mono()-began)
	}
	d.status()
}

// repair is the periodic full pass; it reports whether the kernel holds
// the table in force now.
func (d *daemon) repair(ctx context.Context) bool {
	res, err := d.Engine.Repair(ctx)
	switch {
	case err != nil:
		d.Log.Error("repair", "err", err)
	case res != nil && res.Repaired:
		d.Log.Warn("the kernel did not hold the table in force (another tool flushed or changed it); loaded it again", "was", string(res.Was), "generation", res.Generation.ID)
		d.kickHosts()
	case res != nil && res.TookOver:
		d.Log.Info("took over table inet leash: this daemon owns it now", "generation", res.Generation.ID)
	}
	var was string
	if res != nil && res.Repaired {
		was = string(res.Was)
	}
	d.Metrics.Repaired(was, err)
	if d.deferred {
		d.applyFile(ctx)
	}
	d.renewWindows(ctx)
	return err == nil
}

// status sends STATUS= with what is in force.
func (d *daemon) status() { d.notify("STATUS=" + d.inForce()) }

func (d *daemon) inForce() string {
	gen, _, err := d.Engine.View()
	if err != nil {
		return "nothing recorded in force"
	}
	return "enforcing " + engine.Describe(gen.Meta)
}

func (d *daemon) notify(s string) {
	if d.Notify != nil {
		d.Notify(s)
	}
}

// firstLine is err's first line (a policy ErrorList has one per error).
func firstLine(err error) string {
	s := err.Error()
	for i, r := range s {
		if r == '\n' {
			return s[:i] + " ..."
		}
	}
	return s
}
