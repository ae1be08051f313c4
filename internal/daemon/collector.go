package daemon

import (
	"context"
	"errors"
	"time"

	"github.com/leash-dev/leash/internal/denylog"
	"github.com/leash-dev/leash/internal/metrics"
)

// CollectRetry is how long the daemon waits before it tries to host the
// denial log collector again: after another collector (leash-log.service,
// `leash log collect`) held the history directory, or the collector failed.
const CollectRetry = 30 * time.Second

// hostCollector starts the denial log collector (Config.Collect) in its
// own goroutine, so that the daemon is the one process that owns the
// table, keeps it true and records its denials; it returns a function that
// waits for the collector to stop (ctx ended: it has flushed the attempts
// still open and synced the history).
//
// The collector reads the NFLOG group the policy in force logs to
// (Config.LogGroup) when it starts; every RepairEvery the daemon looks
// whether the current generation changed (one small file: state's
// current), and if the new one logs to another group, the collector is
// restarted on it. While another collector holds the directory, the daemon
// retries every CollectRetry and takes over when that one stops; a
// collector error is logged and retried the same way, and never stops the
// daemon: the kernel's enforcement does not depend on the log.
func (d *daemon) hostCollector(ctx context.Context) (wait func()) {
	if d.Collect == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		busyLogged := false
		for {
			group := d.logGroup()
			run, stop := context.WithCancel(ctx)
			moved := make(chan struct{})
			go d.followGroup(run, group, func() { close(moved); stop() })
			err := d.Collect(run, group, func() { d.Metrics.Collecting(true) })
			stop()
			d.Metrics.Collecting(false)
			select {
			case <-moved:
				d.Log.Info("the policy in force logs to another NFLOG group: the denial log collector follows it", "was", group)
				continue
			default:
			}
			switch {
			case ctx.Err() != nil:
				return
			case errors.Is(err, denylog.ErrCollectorRunning), errors.Is(err, denylog.ErrGroupBusy):
				if !busyLogged {
					d.Log.Warn("another denial log collector holds the history or the NFLOG group (leash-log.service, leash log -f?); the daemon collects once it stops", "err", err)
					busyLogged = true
				}
			case err != nil:
				d.Log.Error("denial log collector stopped; retrying", "err", err, "retry", CollectRetry)
				busyLogged = false
			default:
				d.Log.Warn("denial log collector stopped; retrying", "retry", CollectRetry)
			}
			select {
			case <-ctx.Done():
				return
			case <-d.Clock.After(CollectRetry):
			}
		}
	}()
	return func() { <-done }
}

// followGroup calls moved (once) when the current generation changes to
// one that logs to another group than group, checking every RepairEvery
// until ctx ends.
func (d *daemon) followGroup(ctx context.Context, group uint16, moved func()) {
	if d.LogGroup == nil {
		return
	}
	last, _ := d.Engine.Store.CurrentID()
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.Clock.After(d.RepairEvery):
		}
		id, err := d.Engine.Store.CurrentID()
		if err != nil || id == last {
			continue
		}
		last = id
		if d.logGroup() != group {
			moved()
			return
		}
	}
}

// logGroup is the group the policy in force logs to (0: Collect decides).
func (d *daemon) logGroup() uint16 {
	if d.LogGroup == nil {
		return 0
	}
	return d.LogGroup()
}

// applyResult is the metrics result of a successful apply.
func applyResult(unchanged bool) string {
	if unchanged {
		return metrics.ResultUnchanged
	}
	return metrics.ResultChanged
}
