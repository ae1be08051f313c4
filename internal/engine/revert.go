package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/state"
)

// Timing of the reverter.
const (
	// RevertPoll is how often the reverter checks whether its generation
	// was confirmed while it waits for the deadline.
	RevertPoll = time.Second
	// RevertRetry and RevertRetryMax bound the backoff between attempts
	// of a revert that failed (lock held, disk full, kernel refused).
	RevertRetry    = time.Second
	RevertRetryMax = time.Minute
)

// RevertTarget is the confirmation a reverter stands for, carried in its
// own arguments so that it can revert even if the pending record is
// damaged or lost.
type RevertTarget struct {
	// Generation is the generation awaiting confirmation.
	Generation int
	// Previous is the generation a revert re-applies (0: remove the
	// table).
	Previous int
	// Deadline is when the revert is due (wall clock at the time of the
	// apply; waited for on the monotonic clock).
	Deadline time.Time
}

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

// RevertPending is the reverter of apply --confirm. It waits until the
// deadline on the monotonic clock (a wall-clock step does not make it late
// or early), checking every RevertPoll whether t.Generation was confirmed
// or superseded; if t.Generation is still awaiting confirmation then, it
// puts t.Previous's stored ruleset back (or removes the table), records
// that as a new generation and clears the pending record, under the lock.
// A revert that fails (lock held by a slow leash, disk full, damaged
// record) is retried with backoff until it succeeds or ctx ends; the
// kernel is changed first when only the record cannot be written. logf
// receives progress lines.
func (e *Engine) RevertPending(ctx context.Context, t RevertTarget, logf func(string, ...any)) (*RevertResult, error) {
	logf("reverting at %s unless confirmed", FormatTime(t.Deadline))
	due := e.Clock.Mono() + t.Deadline.Sub(e.Clock.Now())
	ok, err := e.waitDeadline(ctx, t.Generation, due)
	if err != nil || !ok {
		if err == nil {
			logf("confirmed or superseded before the deadline; nothing to do")
		}
		return &RevertResult{}, err
	}
	backoff := RevertRetry
	for attempt := 1; ; attempt++ {
		res, err := e.revertDue(ctx, t, logf)
		if err == nil {
			return res, nil
		}
		logf("attempt %d failed: %v; trying again in %s", attempt, err, backoff)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("stopped while retrying the revert (%w); the next leash command that takes the lock reverts it: %v", ctx.Err(), err)
		case <-e.Clock.After(backoff):
		}
		backoff = min(2*backoff, RevertRetryMax)
	}
}

// waitDeadline sleeps until the monotonic reading due, checking every
// RevertPoll whether the pending record may still fall back to gen
// (state.Pending.Awaits: a record that replaced gen's confirmation is not
// settled until its change is, so the reverter keeps waiting and decides
// under the lock). It reports whether the revert is due (false: confirmed
// or superseded).
func (e *Engine) waitDeadline(ctx context.Context, gen int, due time.Duration) (bool, error) {
	for {
		// A corrupt record is decided under the lock at the deadline.
		if p, err := e.Store.Pending(); err == nil && !p.Awaits(gen) {
			return false, nil
		}
		left := due - e.Clock.Mono()
		if left <= 0 {
			return true, nil
		}
		select {
		case <-ctx.Done():
			return false, fmt.Errorf("stopped before the deadline (%w); the next leash command that takes the lock reverts it when it is overdue", ctx.Err())
		case <-e.Clock.After(min(left, RevertPoll)):
		}
	}
}

// revertDue makes one attempt at the due revert of t, under the lock.
func (e *Engine) revertDue(ctx context.Context, t RevertTarget, logf func(string, ...any)) (*RevertResult, error) {
	lk, err := e.lockAs(ctx, asReverter)
	if err != nil {
		return nil, err
	}
	defer lk.Unlock()
	p, err := e.Store.Pending()
	var ce *state.CorruptError
	switch {
	case errors.As(err, &ce):
		if cur, _, verr := e.View(); verr == nil && cur.ID != t.Generation {
			logf("the pending record is unusable (%v), and generation %d is no longer in force; nothing to do", ce, t.Generation)
			return &RevertResult{}, nil
		}
		logf("the pending record is unusable (%v); reverting by this reverter's own record of the confirmation", ce)
		p = &state.Pending{Generation: t.Generation, Previous: t.Previous, Deadline: t.Deadline}
	case err != nil:
		return nil, err
	case p == nil || p.Generation != t.Generation:
		logf("confirmed or superseded at the deadline; nothing to do")
		return &RevertResult{}, nil
	}
	k, err := e.kernel()
	if err != nil {
		return nil, err
	}
	defer k.Close()
	id, err := e.revertPending(k, p, fmt.Sprintf("automatic revert of %d (%s)", p.Generation, notConfirmed(p)))
	if err != nil {
		return nil, err
	}
	logf("%s: %s, recorded as generation %d", notConfirmed(p), RevertedTo(p), id)
	return &RevertResult{Reverted: true, Generation: id, Pending: p}, nil
}

// notConfirmed says why p is reverted: "not confirmed within 60s".
func notConfirmed(p *state.Pending) string {
	if p.Window == "" {
		return "not confirmed by " + FormatTime(p.Deadline)
	}
	return "not confirmed within " + p.Window
}

// revertPending puts p.Previous's stored ruleset back in the kernel (no
// table if there was none), records it as a new generation with note and
// clears p. If the previous generation is unusable it loads the emergency
// table instead, records that, and returns an error saying so. If the
// revert cannot be recorded (the state disk is full or read-only), the
// kernel is changed anyway and the error says so: p stays recorded, so
// the revert is recorded by whoever tries next. The caller holds the lock.
func (e *Engine) revertPending(k Kernel, p *state.Pending, note string) (int, error) {
	var prev *state.Generation
	if p.Previous > 0 {
		var err error
		if prev, err = e.loadIntact(p.Previous); err != nil {
			return e.revertToEmergency(k, p, note, err)
		}
	}
	id, err := e.replay(context.Background(), k, prev, state.Meta{Action: state.ActionRevert, Reverts: p.Generation, Note: note}, note, func(err error) error {
		return fmt.Errorf("%s: the kernel refused the previous table (generation %d stays pending): %w", note, p.Generation, err)
	})
	var nr *notRecordedError
	if errors.As(err, &nr) {
		return 0, e.revertUnrecorded(k, prev, p, note, nr.err)
	}
	if err != nil {
		return id, err
	}
	e.prune()
	return id, nil
}

// revertUnrecorded enforces prev's table (nil: no table) although the
// revert could not be recorded (cause): the kernel first, the record when
// it can be.
func (e *Engine) revertUnrecorded(k Kernel, prev *state.Generation, p *state.Pending, note string, cause error) error {
	var rs *ruleset.Ruleset
	what := "no table"
	if prev != nil {
		rs, what = prev.Ruleset, fmt.Sprintf("generation %d's table", prev.ID)
	}
	if err := e.enforce(k, rs); err != nil {
		return fmt.Errorf("%s: recording the revert failed (%v), and the kernel refused %s: %w", note, cause, what, err)
	}
	return fmt.Errorf("%s: the kernel enforces %s again, but recording the revert failed (%v); generation %d stays recorded as pending until the revert is recorded (the reverter retries, and so does every leash command that takes the lock)",
		note, what, cause, p.Generation)
}

func (e *Engine) revertToEmergency(k Kernel, p *state.Pending, note string, cause error) (int, error) {
	rs := compile.Emergency()
	gen := &state.Generation{
		Meta: state.Meta{Time: e.now().UTC(), Action: state.ActionEmergency, Reverts: p.Generation,
			Note: fmt.Sprintf("%s: generation %d unusable, emergency table", note, p.Previous)},
		Ruleset: rs,
	}
	id, err := e.record(context.Background(), gen, true, note+": the emergency table", func(int) error {
		if err := k.Apply(rs); err != nil {
			return fmt.Errorf("%s: generation %d is unusable (%v), and the kernel refused the emergency table too: %w", note, p.Previous, cause, err)
		}
		return nil
	})
	var nr *notRecordedError
	if errors.As(err, &nr) {
		if kerr := k.Apply(rs); kerr != nil {
			return 0, fmt.Errorf("%s: generation %d is unusable (%v), recording the emergency table failed (%v), and the kernel refused it: %w", note, p.Previous, cause, nr.err, kerr)
		}
		return 0, fmt.Errorf("%s: generation %d cannot be used (%v); the EMERGENCY table is loaded, but recording it failed (%v)", note, p.Previous, cause, nr.err)
	}
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
