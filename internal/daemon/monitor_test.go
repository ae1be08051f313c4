package daemon

import (
	"context"
	"testing"
	"time"

	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/nft"
	"github.com/leash-dev/leash/internal/ruleset"
)

// TestDaemonRepairsOnEvent: a foreign change reported by the netfilter
// monitor is repaired after DriftSettle, without waiting for the periodic
// pass; the daemon's own changes and other tables' are ignored; a monitor
// that fails is started again.
func TestDaemonRepairsOnEvent(t *testing.T) {
	r := newRig(t)
	events := make(chan nft.TableChange)
	starts := make(chan struct{}, 4)
	r.configure = func(c *Config) {
		c.RepairEvery = time.Hour
		c.WatchTable = func(ctx context.Context, out chan<- nft.TableChange) error {
			starts <- struct{}{}
			for {
				select {
				case <-ctx.Done():
					return nil
				case ch, ok := <-events:
					if !ok {
						events = make(chan nft.TableChange) // the next start's
						return context.DeadlineExceeded     // a failed monitor
					}
					out <- ch
				}
			}
		}
	}
	r.run()
	<-starts
	_, commits, _ := r.k.Stats()

	// The daemon's own change: nothing to do.
	events <- nft.TableChange{Gen: 5, Self: true, What: []string{"rule added"}}
	r.clk.Advance(DriftSettle)
	time.Sleep(20 * time.Millisecond)
	if _, c, _ := r.k.Stats(); c != commits {
		t.Fatalf("commits %d -> %d after the daemon's own change", commits, c)
	}

	// Another tool adds a rule (direct mode): repaired after DriftSettle.
	r.k.Tamper(func(rs *ruleset.Ruleset) {
		ch := rs.Chain(compile.ChainOutput)
		ch.Rules = append(ch.Rules, &ruleset.Rule{Verdict: ruleset.Verdict{Kind: ruleset.Accept}})
	})
	events <- nft.TableChange{Gen: 6, PID: 4321, Comm: "nft", What: []string{"rule added"}}
	for i := 0; i < 100 && r.clk.Waiters() < 3; i++ { // repair, watchdog, drift
		time.Sleep(time.Millisecond)
	}
	r.clk.Advance(DriftSettle)
	r.eventually("the foreign rule removed", func() bool {
		_, c, _ := r.k.Stats()
		return c == commits+1
	})
	gen, err := r.e.Store.Current()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(r.k.Table().Chain(compile.ChainOutput).Rules), len(gen.Ruleset.Chain(compile.ChainOutput).Rules); got != want {
		t.Errorf("the output chain has %d rules after the repair, want %d", got, want)
	}

	// The monitor fails: it is started again after WatchRetry.
	close(events)
	for i := 0; i < 100 && r.clk.Waiters() < 3; i++ {
		time.Sleep(time.Millisecond)
	}
	r.clk.Advance(WatchRetry)
	select {
	case <-starts:
	case <-time.After(2 * time.Second):
		t.Fatal("the monitor was not started again")
	}
}
