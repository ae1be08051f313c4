package daemon

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/leash-dev/leash/internal/engine"
	"github.com/leash-dev/leash/internal/policy/policytest"
)

const timed = "version: 1\npolicies:\n  - name: dev\n    users: [admin]\n    rules:\n" +
	"      - allow: {ports: [443/tcp], when: {days: [mon-fri], hours: [\"08:00-18:00\"], zone: Europe/Berlin}}\n    default: reject\n"

// TestDaemonRenewsWindows: a generation's time windows are compiled up to
// a horizon; a day before it ends, a full pass reapplies the policy, which
// compiles the next ones.
func TestDaemonRenewsWindows(t *testing.T) {
	r := newRig(t)
	r.write(timed)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); <-r.stopped })
	cfg := Config{
		Engine: r.e, Policy: r.file, ReadFile: os.ReadFile, Watcher: r.w,
		Compile: func(ctx context.Context, path string, src []byte) (*engine.Compiled, error) {
			env := policytest.Env(policytest.DefaultIDs)
			env.Clock = r.clk
			return engine.Compile(ctx, env, path, src)
		},
		Clock: r.clk, RepairEvery: time.Hour, Reload: r.reload,
		Notify: func(s string) { r.mu.Lock(); r.notes = append(r.notes, s); r.mu.Unlock() },
		Log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	go func() {
		defer close(r.stopped)
		if err := Run(ctx, cfg); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	r.eventually("READY", func() bool { return r.noted("READY=1") })
	until := func() time.Time {
		gen, _, err := r.e.View()
		if err != nil || gen.Windows == nil {
			t.Fatalf("generation in force: %v, windows %v", err, gen)
		}
		return gen.Windows.Until
	}
	start := r.clk.Now()
	if got, want := until(), start.Add(14*24*time.Hour); !got.Equal(want) {
		t.Fatalf("windows until %v, want %v", got, want)
	}
	// Twelve days on, nothing to renew yet.
	for i := 0; i < 12*24; i++ {
		r.clk.Advance(time.Hour)
	}
	time.Sleep(20 * time.Millisecond)
	if r.current() != 1 {
		t.Fatalf("generation %d after 12 days, want 1 (nothing due)", r.current())
	}
	// The 13th day's passes renew.
	for i := 0; i < 24; i++ {
		r.clk.Advance(time.Hour)
	}
	r.eventually("the windows renewed", func() bool { return r.current() == 2 })
	if got := until(); !got.After(start.Add(14 * 24 * time.Hour)) {
		t.Errorf("renewed windows until %v, want after %v", got, start.Add(14*24*time.Hour))
	}
}
