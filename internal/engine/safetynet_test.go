package engine

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/leash-dev/leash/internal/state"
)

// applyPending applies a confirmed first policy, then a second one with a
// one-minute confirmation window; it returns both.
func (h *harness) applyPending() (first, second *Compiled) {
	h.t.Helper()
	first, second = policyFor(h.t, "allow"), policyFor(h.t, "deny")
	if _, err := h.engine().Apply(ctx, first, ApplyOptions{}); err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.engine().Apply(ctx, second, ApplyOptions{Confirm: time.Minute}); err != nil {
		h.t.Fatal(err)
	}
	return first, second
}

// eventually polls cond (for real, bounded) until it holds.
func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	for i := 0; i < 1000; i++ {
		if cond() {
			return
		}
		time.Sleep(time.Millisecond)
	}
	h.t.Fatalf("%s: not within 1s", what)
}

// blockGeneration makes generation id impossible to write (as a full or
// broken disk would): a file where its directory goes.
func (h *harness) blockGeneration(id int) func() {
	h.t.Helper()
	dir := h.store.GenerationFile(id)
	dir = dir[:strings.LastIndex(dir, "/")]
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		h.t.Fatal(err)
	}
	return func() { os.Remove(dir) }
}

// TestRevertWhenTheRecordCannotBeWritten: the state disk fails during the
// window; at the deadline the kernel gets the previous table anyway, and
// the revert is recorded once the disk works again.
func TestRevertWhenTheRecordCannotBeWritten(t *testing.T) {
	h := newHarness(t)
	first, _ := h.applyPending()
	unblock := h.blockGeneration(3)
	h.waitWaiting(1)
	h.clk.Advance(time.Minute)
	h.eventually("the kernel holds the previous table", func() bool { return h.k.Dump() == mustKernelForm(t, first) })
	if p, err := h.store.Pending(); err != nil || p == nil || p.Generation != 2 {
		t.Fatalf("pending = %+v, %v; want generation 2 still recorded until the revert is", p, err)
	}
	unblock()
	h.waitWaiting(1)
	h.clk.Advance(RevertRetry)
	r := h.reverter(0)
	if r.err != nil || !r.res.Reverted || r.res.Generation != 3 {
		t.Fatalf("reverter = %+v, %v; want the revert recorded as generation 3", r.res, r.err)
	}
	h.kernelHolds(first)
	if p, _ := h.store.Pending(); p != nil {
		t.Errorf("pending left: %+v", p)
	}
}

func mustKernelForm(t *testing.T, c *Compiled) string {
	t.Helper()
	s, err := kernelFormOf(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRevertWithDamagedRecord: pending.json is damaged in the window; the
// reverter reverts by its own arguments.
func TestRevertWithDamagedRecord(t *testing.T) {
	h := newHarness(t)
	first, _ := h.applyPending()
	if err := os.WriteFile(h.store.PendingFile(), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := h.engine().Pending(); r == nil || r.State != PendingUnreadable {
		t.Errorf("Pending() = %+v, want unreadable", r)
	}
	h.waitWaiting(1)
	h.clk.Advance(time.Minute)
	r := h.reverter(0)
	if r.err != nil || !r.res.Reverted {
		t.Fatalf("reverter = %+v, %v; want a revert", r.res, r.err)
	}
	h.kernelHolds(first)
	if _, err := h.store.Pending(); err != nil {
		t.Errorf("the damaged record is still there: %v", err)
	}
}

// TestRevertOutwaitsTheLock: another leash holds the lock far longer than
// the reverter's lock timeout; the reverter keeps trying.
func TestRevertOutwaitsTheLock(t *testing.T) {
	h := newHarness(t)
	first, second := h.applyPending()
	other, err := h.store.Lock(ctx, state.LockOptions{Holder: state.Holder{Command: "leash apply huge.yaml"}})
	if err != nil {
		t.Fatal(err)
	}
	h.waitWaiting(1)
	h.clk.Advance(time.Minute)
	// The reverter's LockTimeout (1s) passes for real; it retries.
	for i := 0; i < 3; i++ {
		h.waitWaiting(1) // backing off after a failed attempt
		h.kernelHolds(second)
		h.clk.Advance(RevertRetryMax)
	}
	h.waitWaiting(1)
	other.Unlock()
	h.clk.Advance(RevertRetryMax)
	if r := h.reverter(0); r.err != nil || !r.res.Reverted {
		t.Fatalf("reverter = %+v, %v; want a revert once the lock is free", r.res, r.err)
	}
	h.kernelHolds(first)
}

// TestRevertOnTheMonotonicClock: the wall clock steps back an hour in the
// window; the revert still happens a minute after the apply.
func TestRevertOnTheMonotonicClock(t *testing.T) {
	h := newHarness(t)
	first, _ := h.applyPending()
	h.waitWaiting(1)
	h.clk.Set(h.clk.Now().Add(-time.Hour))
	h.clk.Advance(time.Minute) // wall clock: 59 minutes before the deadline
	r := h.reverter(0)
	if r.err != nil || !r.res.Reverted {
		t.Fatalf("reverter = %+v, %v; want a revert one monotonic minute after the apply", r.res, r.err)
	}
	h.kernelHolds(first)
}

// TestOverdueRevertByTheNextCommand: the reverter died (SIGKILL); the next
// command that takes the lock after the deadline reverts, and says so.
func TestOverdueRevertByTheNextCommand(t *testing.T) {
	h := newHarness(t)
	h.stillborn = true
	first, second := h.applyPending()
	if r := h.engine().Pending(); r == nil || r.State != PendingOrphaned {
		t.Errorf("Pending() = %+v, want orphaned", r)
	}
	h.clk.Advance(time.Minute + OverdueGrace/2)
	// Within the grace a late confirm still wins...
	if r := h.engine().Pending(); r == nil || r.State == PendingOverdue {
		t.Errorf("Pending() within the grace = %+v, want not yet overdue", r)
	}
	h.clk.Advance(OverdueGrace)
	if r := h.engine().Pending(); r == nil || r.State != PendingOverdue {
		t.Fatalf("Pending() = %+v, want overdue", r)
	}
	h.kernelHolds(second)
	// ...after it, any locked command reverts first.
	_, err := h.engine().Confirm(ctx)
	if !errors.Is(err, ErrNothingPending) || !strings.Contains(err.Error(), "was not confirmed in time and was reverted") {
		t.Fatalf("Confirm = %v, want the overdue revert reported", err)
	}
	h.kernelHolds(first)
	if !strings.Contains(h.notesText(), "overdue revert of 2") {
		t.Errorf("notes = %q, want the overdue revert said", h.notesText())
	}
}

// TestLateConfirmWithinGrace: a confirm just after the deadline, before
// the reverter acted, keeps the generation.
func TestLateConfirmWithinGrace(t *testing.T) {
	h := newHarness(t)
	h.stillborn = true
	_, second := h.applyPending()
	h.clk.Advance(time.Minute + time.Second)
	res, err := h.engine().Confirm(ctx)
	if err != nil || !res.Late || res.Confirmed != 2 {
		t.Fatalf("Confirm = %+v, %v; want a late confirm", res, err)
	}
	h.kernelHolds(second)
}

// TestOrphanedReverterReplaced: a reverter killed before the deadline is
// replaced by the next command that takes the lock.
func TestOrphanedReverterReplaced(t *testing.T) {
	h := newHarness(t)
	h.stillborn = true
	first, second := h.applyPending()
	h.stillborn = false
	// Any command that takes the lock; an unchanged reapply changes nothing else.
	res, err := h.engine().Reapply(ctx, func(context.Context, *state.Generation) (*Compiled, error) { return second, nil })
	if err != nil || res.Changed {
		t.Fatalf("Reapply = %+v, %v", res, err)
	}
	if r := h.engine().Pending(); r == nil || r.State != PendingWaiting || r.Pending.ReverterPID == 1001 {
		t.Fatalf("Pending() = %+v, want a new, live reverter", r)
	}
	if !strings.Contains(h.notesText(), "was gone; started another") {
		t.Errorf("notes = %q, want the replacement said", h.notesText())
	}
	h.waitWaiting(1)
	h.clk.Advance(time.Minute)
	if r := h.reverter(0); r.err != nil || !r.res.Reverted {
		t.Fatalf("new reverter = %+v, %v; want a revert", r.res, r.err)
	}
	h.kernelHolds(first)
}
