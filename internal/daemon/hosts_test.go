package daemon

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeRefresher counts its runs and kicks.
type fakeRefresher struct {
	running, kicks atomic.Int32
	stopped        atomic.Bool
}

func (f *fakeRefresher) Run(ctx context.Context, kick <-chan struct{}) {
	f.running.Add(1)
	defer f.stopped.Store(true)
	for {
		select {
		case <-ctx.Done():
			return
		case <-kick:
			f.kicks.Add(1)
		}
	}
}

// TestDaemonRunsTheRefresher: the host refresher runs beside the loop, is
// kicked when a new generation is applied and when a flushed table is
// loaded again, and has stopped when Run returns.
func TestDaemonRunsTheRefresher(t *testing.T) {
	r := newRig(t)
	f := &fakeRefresher{}
	r.hosts = f
	t.Cleanup(func() { // runs after the rig's: the daemon has stopped
		if !f.stopped.Load() {
			t.Errorf("the refresher still runs after the daemon stopped")
		}
	})
	r.run()
	r.eventually("the refresher runs", func() bool { return f.running.Load() == 1 })
	before := f.kicks.Load()
	r.edit(strings.Replace(allowAll, "deny", "reject", 1))
	r.eventually("a kick after the apply", func() bool { return r.current() == 2 && f.kicks.Load() > before })
	before = f.kicks.Load()
	if err := r.k.Reset(); err != nil {
		t.Fatal(err)
	}
	r.clk.Advance(5 * time.Second)
	r.eventually("a kick after the repair", func() bool { return r.k.Table() != nil && f.kicks.Load() > before })
}
