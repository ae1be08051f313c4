package daemon

import (
	"context"
	"time"

	"github.com/leash-dev/leash/internal/nft"
)

// Timing of drift repair from netfilter events.
const (
	// DriftSettle is how long the daemon lets a burst of foreign changes
	// (a script of nft commands) go on before it repairs once.
	DriftSettle = 50 * time.Millisecond
	// WatchRetry is how long the daemon waits before it watches again
	// when the netfilter monitor failed.
	WatchRetry = time.Second
)

// watchTable runs the netfilter monitor (Config.WatchTable) for as long as
// ctx lasts, starting it again WatchRetry after a failure (reported as a
// lost event: the table may have changed meanwhile). It returns nil
// without a monitor: the periodic full pass is then the only repair.
func (d *daemon) watchTable(ctx context.Context) <-chan nft.TableChange {
	if d.WatchTable == nil {
		return nil
	}
	changes := make(chan nft.TableChange, 16)
	go func() {
		for {
			err := d.WatchTable(ctx, changes)
			if ctx.Err() != nil {
				return
			}
			d.Log.Warn("the netfilter monitor stopped; watching again (the periodic full pass still repairs)", "err", err, "retry", WatchRetry)
			select {
			case changes <- nft.TableChange{Lost: true}:
			case <-ctx.Done():
				return
			}
			select {
			case <-d.Clock.After(WatchRetry):
			case <-ctx.Done():
				return
			}
		}
	}()
	return changes
}

// foreignChange reports whether ch calls for a repair: a change of leash's
// table that this daemon did not make, or lost events. It is logged.
func (d *daemon) foreignChange(ch nft.TableChange) bool {
	switch {
	case ch.Lost:
		d.Log.Warn("netfilter events were lost; checking the table", "change", ch.String())
		return true
	case ch.Self:
		return false
	}
	d.Log.Warn("another process changed table inet leash; repairing it", "by", ch.Comm, "thread", ch.PID, "generation", ch.Gen, "what", ch.What)
	return true
}
