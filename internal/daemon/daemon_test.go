package daemon

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leash-dev/leash/internal/clock"
	"github.com/leash-dev/leash/internal/engine"
	"github.com/leash-dev/leash/internal/metrics"
	"github.com/leash-dev/leash/internal/nft"
	"github.com/leash-dev/leash/internal/policy/policytest"
	"github.com/leash-dev/leash/internal/state"
)

// fakeWatcher delivers the events a test sends.
type fakeWatcher struct {
	mu      sync.Mutex
	watched map[string]bool
	events  chan string
}

func (w *fakeWatcher) Watch(p string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.watched[filepath.Clean(p)] = true
	return nil
}
func (w *fakeWatcher) Events() <-chan string { return w.events }
func (w *fakeWatcher) Close() error          { return nil }

// rig is a daemon over a temporary state directory, the fake kernel, a
// fake clock and a fake watcher.
type rig struct {
	cgroups *Cgroups // nil: no cgroup keeping (cgroups_test.go)
	t       *testing.T
	k       *nft.Fake
	clk     *clock.Fake
	w       *fakeWatcher
	e       *engine.Engine
	file    string
	reload  chan struct{}
	mu      sync.Mutex
	notes   []string
	stopped chan struct{}
	metrics *metrics.Metrics                                              // nil: none
	collect func(ctx context.Context, group uint16, started func()) error // nil: none
	group   func() uint16
	hosts   HostRefresher
	// configure, when set, changes the Config before the daemon runs.
	configure func(*Config)
}

const allowAll = "version: 1\npolicies:\n  - name: offline\n    users: [oracle]\n    default: deny\n"

func newRig(t *testing.T) *rig {
	t.Helper()
	dir := t.TempDir()
	r := &rig{t: t, k: nft.NewFake(), clk: clock.NewFake(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)),
		w: &fakeWatcher{watched: map[string]bool{}, events: make(chan string, 8)}, file: filepath.Join(dir, "policy.yaml"),
		reload: make(chan struct{}, 1), stopped: make(chan struct{})}
	r.e = &engine.Engine{
		Store:       &state.Store{Dir: filepath.Join(dir, "state")},
		OpenKernel:  func() (engine.Kernel, error) { return r.k, nil },
		Clock:       r.clk,
		LockTimeout: time.Second,
		StartReverter: func(*state.Pending) (int, error) {
			return 4242, nil
		},
	}
	r.write(allowAll)
	return r
}

func (r *rig) write(src string) {
	r.t.Helper()
	if err := os.WriteFile(r.file, []byte(src), 0o600); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) run() {
	ctx, cancel := context.WithCancel(context.Background())
	r.t.Cleanup(func() { cancel(); <-r.stopped })
	cfg := Config{
		Engine: r.e, Policy: r.file, ReadFile: os.ReadFile, Watcher: r.w, ReapplyFiles: []string{"/etc/passwd"},
		Compile: func(ctx context.Context, path string, src []byte) (*engine.Compiled, error) {
			return engine.Compile(ctx, policytest.Env(policytest.DefaultIDs), path, src)
		},
		Clock: r.clk, RepairEvery: 5 * time.Second, Watchdog: 10 * time.Second, Reload: r.reload,
		Notify:  func(s string) { r.mu.Lock(); r.notes = append(r.notes, s); r.mu.Unlock() },
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		Metrics: r.metrics, Collect: r.collect, LogGroup: r.group,
		Hosts: r.hosts, Cgroups: r.cgroups,
	}
	if r.configure != nil {
		r.configure(&cfg)
	}
	go func() {
		defer close(r.stopped)
		if err := Run(ctx, cfg); err != nil {
			r.t.Errorf("Run: %v", err)
		}
	}()
	r.eventually("READY", func() bool { return r.noted("READY=1") })
}

func (r *rig) noted(sub string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.notes {
		if strings.Contains(n, sub) {
			return true
		}
	}
	return false
}

// eventually polls cond for real (bounded): the daemon runs in its own
// goroutine. The bound is generous: on a loaded machine a file event and
// the daemon's goroutine may take seconds to be scheduled.
func (r *rig) eventually(what string, cond func() bool) {
	r.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if cond() {
			return
		}
		time.Sleep(time.Millisecond)
	}
	r.t.Fatalf("%s: not within 10s (notes %q)", what, r.notes)
}

func (r *rig) current() int {
	id, _ := r.e.Store.CurrentID()
	return id
}

// edit changes the policy file and tells the daemon, then lets the
// debounce pass.
func (r *rig) edit(src string) {
	r.t.Helper()
	r.write(src)
	r.w.events <- r.file
	// The daemon starts its debounce timer, the only one that short
	// (bounded, and generous for a loaded machine).
	for deadline := time.Now().Add(10 * time.Second); r.clk.DueWithin(Debounce) == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	r.clk.Advance(Debounce)
}

func TestDaemonAppliesAndKeeps(t *testing.T) {
	r := newRig(t)
	r.run()
	if r.current() != 1 || r.k.Table() == nil {
		t.Fatalf("after start: current %d, table %v; want generation 1 in force", r.current(), r.k.Table() != nil)
	}
	if !r.w.watched[r.file] || !r.w.watched["/etc/passwd"] {
		t.Errorf("watched %v, want the policy file and /etc/passwd", r.w.watched)
	}

	// A valid edit is applied.
	r.edit(strings.Replace(allowAll, "deny", "reject", 1))
	r.eventually("the edit applied", func() bool { return r.current() == 2 })

	// An invalid edit is refused; generation 2 stays.
	r.edit("version: 1\npolicies:\n  - name: x\n    users: [nosuchuser]\n    default: deny\n")
	r.eventually("the refusal reported", func() bool { return r.noted("was not applied") })
	if r.current() != 2 {
		t.Errorf("current = %d after an invalid edit, want 2", r.current())
	}

	// Another tool flushes the ruleset: the next full pass loads it again.
	if err := r.k.Reset(); err != nil {
		t.Fatal(err)
	}
	r.clk.Advance(5 * time.Second)
	r.eventually("the table repaired", func() bool { return r.k.Table() != nil })
	if r.current() != 2 {
		t.Errorf("current = %d after a repair, want 2 (a repair records nothing)", r.current())
	}

	// The watchdog is fed.
	r.clk.Advance(10 * time.Second)
	r.eventually("WATCHDOG", func() bool { return r.noted("WATCHDOG=1") })
}

// TestDaemonLeavesAConfirmationAlone: while a confirmation is pending, the
// daemon does not apply the file (a plain apply would drop the admin's
// safety net); once it is settled, the next full pass applies it.
func TestDaemonLeavesAConfirmationAlone(t *testing.T) {
	r := newRig(t)
	r.run()
	c, err := engine.Compile(context.Background(), policytest.Env(policytest.DefaultIDs), r.file, []byte(strings.Replace(allowAll, "deny", "reject", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.e.Apply(context.Background(), c, engine.ApplyOptions{Confirm: time.Hour}); err != nil {
		t.Fatal(err)
	}
	r.edit(allowAll + "  - name: rest\n    everyone: true\n    default: allow\n")
	time.Sleep(20 * time.Millisecond)
	if p, _ := r.e.Store.Pending(); p == nil || r.current() != 2 {
		t.Fatalf("pending %+v, current %d: the daemon touched a pending confirmation", p, r.current())
	}
	if _, err := r.e.Confirm(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.clk.Advance(5 * time.Second)
	r.eventually("the deferred edit applied", func() bool { return r.current() == 3 })
}

func TestDaemonReload(t *testing.T) {
	r := newRig(t)
	r.run()
	r.write(strings.Replace(allowAll, "deny", "reject", 1)) // no inotify event: SIGHUP picks it up
	r.reload <- struct{}{}
	r.eventually("reloaded", func() bool { return r.current() == 2 && r.noted("RELOADING=1") })
}
