package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/state"
)

// RevertPoll is how often the reverter checks whether its generation was
// confirmed while it waits for the deadline.
const RevertPoll = time.Second

// RevertResult is what RevertPending did.
type RevertResult struct {
	// Reverted is false when the generation was confirmed or superseded
	// before (or at) the deadline: nothing was done.
	Reverted bool
	// Generation records the revert (when Reverted).
	Generation int
	// Pending is the confirmation that was reverted.
	Pending *state.Pending
}

// RevertPending is the reverter of apply --confirm: it waits until
// deadline (by Clock), checking every RevertPoll whether generation gen was
// confirmed or superseded; if gen is still awaiting confirmation then, it
// puts the previous generation's stored ruleset back (or removes the table
// if there was none), records that as a new generation and clears the
// pending record, under the lock. logf receives progress lines.
func (e *Engine) RevertPending(ctx context.Context, gen int, deadline time.Time, logf func(string, ...any)) (*RevertResult, error) {
	logf("reverting at %s unless confirmed", FormatTime(deadline))
	due, err := e.waitDeadline(ctx, gen, deadline)
	if err != nil || !due {
		if err == nil {
			logf("confirmed or superseded before the deadline; nothing to do")
		}
		return &RevertResult{}, err
	}
	lk, err := e.lock(ctx, false)
	if err != nil {
		return nil, err
	}
	defer lk.Unlock()
	p, err := e.Store.Pending()
	if err != nil {
		return nil, err
	}
	if p == nil || p.Generation != gen {
		logf("confirmed or superseded at the deadline; nothing to do")
		return &RevertResult{}, nil
	}
	k, err := e.kernel()
	if err != nil {
		return nil, err
	}
	defer k.Close()
	id, err := e.revertPending(k, p, fmt.Sprintf("automatic revert of %d (not confirmed within %s)", gen, p.Window))
	if err != nil {
		return nil, err
	}
	logf("not confirmed within %s: %s, recorded as generation %d", p.Window, RevertedTo(p), id)
	return &RevertResult{Reverted: true, Generation: id, Pending: p}, nil
}

// waitDeadline sleeps until deadline (by Clock), checking every RevertPoll
// whether the pending record may still fall back to gen
// (state.Pending.Awaits: a record that replaced gen's confirmation is not
// settled until its change is, so the reverter keeps waiting and decides
// under the lock). It reports whether the revert is due (false: confirmed
// or superseded).
func (e *Engine) waitDeadline(ctx context.Context, gen int, deadline time.Time) (bool, error) {
	for {
		// A corrupt record is decided under the lock at the deadline.
		if p, err := e.Store.Pending(); err == nil && !p.Awaits(gen) {
			return false, nil
		}
		left := deadline.Sub(e.Clock.Now())
		if left <= 0 {
			return true, nil
		}
		select {
		case <-ctx.Done():
			return false, fmt.Errorf("stopped before the deadline (%w); leash restore reverts at the next boot", ctx.Err())
		case <-e.Clock.After(min(left, RevertPoll)):
		}
	}
}

// revertPending puts p.Previous's stored ruleset back in the kernel (no
// table if there was none), records it as a new generation with note and
// clears p. If the previous generation is unusable it loads the emergency
// table instead, records that, and returns an error saying so. The caller
// holds the lock.
func (e *Engine) revertPending(k Kernel, p *state.Pending, note string) (int, error) {
	var prev *state.Generation
	if p.Previous > 0 {
		var err error
		if prev, err = e.loadIntact(p.Previous); err != nil {
			return e.revertToEmergency(k, p, note, err)
		}
	}
	id, err := e.replay(k, prev, state.Meta{Action: state.ActionRevert, Reverts: p.Generation, Note: note}, note, func(err error) error {
		return fmt.Errorf("%s: the kernel refused the previous table (generation %d stays pending): %w", note, p.Generation, err)
	})
	if err != nil {
		return id, err
	}
	e.prune()
	return id, nil
}

func (e *Engine) revertToEmergency(k Kernel, p *state.Pending, note string, cause error) (int, error) {
	rs := compile.Emergency()
	gen := &state.Generation{
		Meta: state.Meta{Time: e.now().UTC(), Action: state.ActionEmergency, Reverts: p.Generation,
			Note: fmt.Sprintf("%s: generation %d unusable, emergency table", note, p.Previous)},
		Ruleset: rs,
	}
	id, err := e.record(gen, true, note+": the emergency table", func(int) error {
		if err := k.Apply(rs); err != nil {
			return fmt.Errorf("%s: generation %d is unusable (%v), and the kernel refused the emergency table too: %w", note, p.Previous, cause, err)
		}
		return nil
	})
	if err != nil {
		return id, err
	}
	return id, fmt.Errorf("%s: generation %d cannot be used (%v); the EMERGENCY table is loaded (loopback, established connections, neighbour discovery and DHCP pass, everything else is dropped). Fix: %s or %s",
		note, p.Previous, cause, "leash rollback N", "leash apply FILE")
}

// RevertedTo says what a revert of p put back.
func RevertedTo(p *state.Pending) string {
	if p.Previous == 0 {
		return "removed table inet leash (there was no earlier generation)"
	}
	return fmt.Sprintf("re-applied generation %d", p.Previous)
}
