package daemon

import (
	"bufio"
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leash-dev/leash/internal/denylog"
	"github.com/leash-dev/leash/internal/metrics"
)

// sample is the value of one series of m ("" when absent).
func sample(m *metrics.Metrics, series string) string {
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			return v
		}
	}
	return ""
}

// The daemon records its applies, refusals, repairs and readiness.
func TestDaemonMetrics(t *testing.T) {
	r := newRig(t)
	r.metrics = metrics.New(metrics.Options{Clock: r.clk})
	r.run()
	m := r.metrics
	r.eventually("ready", func() bool { return sample(m, "leash_daemon_ready") == "1" })
	if got := sample(m, `leash_applies_total{result="changed",trigger="file"}`); got != "1" {
		t.Errorf("applies changed/file after start = %s, want 1", got)
	}
	r.edit("version: 1\npolicies:\n  - name: x\n    users: [nosuchuser]\n    default: deny\n")
	r.eventually("the refusal counted", func() bool { return sample(m, `leash_applies_total{result="failed",trigger="file"}`) == "1" })
	if got := sample(m, "leash_policy_file_rejected"); got != "1" {
		t.Errorf("policy_file_rejected = %s after an invalid edit, want 1", got)
	}
	if err := r.k.Reset(); err != nil {
		t.Fatal(err)
	}
	r.clk.Advance(5 * time.Second)
	r.eventually("the repair counted", func() bool { return sample(m, `leash_drift_repairs_total{was="missing"}`) == "1" })
	r.edit(allowAll) // valid again (and already in force)
	r.eventually("the unchanged apply counted", func() bool {
		return sample(m, `leash_applies_total{result="unchanged",trigger="file"}`) == "1"
	})
	if got := sample(m, "leash_policy_file_rejected"); got != "0" {
		t.Errorf("policy_file_rejected = %s after a valid edit, want 0", got)
	}
}

// The daemon hosts the collector: while another one holds the history it
// retries every CollectRetry, and it waits for its collector to stop
// (flushing the history) before it returns.
func TestDaemonHostsCollector(t *testing.T) {
	r := newRig(t)
	r.metrics = metrics.New(metrics.Options{Clock: r.clk})
	var calls, stopped atomic.Int32
	r.collect = func(ctx context.Context, _ uint16, started func()) error {
		if calls.Add(1) == 1 {
			return fmt.Errorf("denylog: /x: %w (pid 7, group 4242)", denylog.ErrCollectorRunning)
		}
		started()
		<-ctx.Done()
		stopped.Add(1)
		return nil
	}
	t.Cleanup(func() { // runs after run's cleanup has stopped the daemon
		if stopped.Load() != 1 {
			t.Errorf("the collector was not stopped before the daemon returned")
		}
	})
	r.run()
	r.eventually("first try", func() bool { return calls.Load() == 1 })
	if got := sample(r.metrics, "leash_log_collector_active"); got != "0" {
		t.Errorf("collector active = %s while another holds the history, want 0", got)
	}
	for i := 0; i < 1000 && calls.Load() == 1; i++ {
		r.clk.Advance(CollectRetry)
		time.Sleep(time.Millisecond)
	}
	r.eventually("collecting", func() bool { return sample(r.metrics, "leash_log_collector_active") == "1" })
}

// The collector follows the NFLOG group of the policy in force: when the
// current generation changes to one that logs elsewhere, it is restarted
// on the new group at once.
func TestDaemonCollectorFollowsGroup(t *testing.T) {
	r := newRig(t)
	var group atomic.Int32
	group.Store(4242)
	r.group = func() uint16 { return uint16(group.Load()) }
	groups := make(chan uint16, 4)
	r.collect = func(ctx context.Context, g uint16, started func()) error {
		groups <- g
		started()
		<-ctx.Done()
		return nil
	}
	r.run()
	if g := <-groups; g != 4242 {
		t.Fatalf("collector started on group %d, want 4242", g)
	}
	r.clk.Advance(5 * time.Second) // same generation: nothing to follow
	group.Store(4243)
	r.edit(strings.Replace(allowAll, "deny", "reject", 1))
	r.eventually("the edit applied", func() bool { return r.current() == 2 })
	for i := 0; i < 1000 && len(groups) == 0; i++ {
		r.clk.Advance(5 * time.Second)
		time.Sleep(time.Millisecond)
	}
	select {
	case g := <-groups:
		if g != 4243 {
			t.Errorf("collector restarted on group %d, want 4243", g)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the collector did not follow the new group")
	}
}
