package daemon

import (
	"context"
	"sync"
)

// HostRefresher refreshes the hostnames' addresses of the generation in
// force beside the daemon's loop (hostrefresh.Refresher.Run): it runs until
// ctx ends, and steps at once when kick receives.
type HostRefresher interface {
	Run(ctx context.Context, kick <-chan struct{})
}

// startHosts runs the refresher, if any, on its own goroutine; the
// returned func stops it and waits (an update in flight completes under
// the engine's lock).
func (d *daemon) startHosts(ctx context.Context) (stop func()) {
	if d.Hosts == nil {
		return func() {}
	}
	d.hostsKick = make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { d.Hosts.Run(ctx, d.hostsKick) })
	return func() {
		cancel()
		wg.Wait()
	}
}

// kickHosts tells the refresher that the generation in force changed (a
// new policy, a reapply, a repair), so that it follows at once rather than
// at its next refresh.
func (d *daemon) kickHosts() {
	if d.hostsKick == nil {
		return
	}
	select {
	case d.hostsKick <- struct{}{}:
	default:
	}
}
