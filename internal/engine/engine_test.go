package engine

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/leash-dev/leash/internal/drift"
	"github.com/leash-dev/leash/internal/nft"
	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/state"
)

var ctx = context.Background()

func TestApplyRecordsAndEnforces(t *testing.T) {
	h := newHarness(t)
	e := h.engine()
	c := policyFor(t, "allow")
	res, err := e.Apply(ctx, c, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Generation != 1 || h.current() != 1 {
		t.Fatalf("generation %d, current %d; want 1, 1", res.Generation, h.current())
	}
	h.kernelHolds(c)
	st, err := e.Status()
	if err != nil {
		t.Fatal(err)
	}
	if st.State != drift.InSync {
		t.Errorf("status %s, want in sync: %+v", st.State, st.Report)
	}
	gen, err := h.store.Current()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(c.Source), string(gen.Policy)); diff != "" {
		t.Errorf("stored policy differs (-want +got):\n%s", diff)
	}
}

func TestApplyRefusedChangesNothing(t *testing.T) {
	h := newHarness(t)
	e := h.engine()
	first := policyFor(t, "allow")
	if _, err := e.Apply(ctx, first, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	h.k.RefuseNext(nil)
	_, err := e.Apply(ctx, policyFor(t, "deny"), ApplyOptions{})
	if !errors.Is(err, nft.ErrRefused) {
		t.Fatalf("Apply = %v, want the kernel's refusal", err)
	}
	const want = "apply policy.yaml: the kernel refused table inet leash, nothing changed: nft fake: injected refusal"
	if err.Error() != want {
		t.Errorf("error:\n got %q\nwant %q", err, want)
	}
	h.kernelHolds(first)
	ids, _ := h.store.IDs()
	if diff := cmp.Diff([]int{1}, ids); diff != "" {
		t.Errorf("generations (-want +got):\n%s", diff)
	}
	if in, err := h.store.Intent(); in != nil || err != nil {
		t.Errorf("intent left behind: %+v, %v", in, err)
	}
}

func TestApplyTooLargeForOneBatch(t *testing.T) {
	h := newHarness(t)
	h.k.MaxMessages = 3
	_, err := h.engine().Apply(ctx, policyFor(t, "allow"), ApplyOptions{})
	if err == nil || !strings.Contains(err.Error(), "no buffer space") {
		t.Fatalf("Apply = %v, want a refused batch", err)
	}
	h.kernelHolds(nil)
	if h.current() != 0 {
		t.Errorf("current = %d after a refused first apply, want none", h.current())
	}
}

// killAt makes the fake kernel end the calling goroutine (as SIGKILL ends
// leash) at one step of the next apply: before the transaction or after it.
func killAt(k *nft.Fake, before bool) {
	var once bool
	k.Hook = func(op string, b bool) error {
		if op == "apply" && b == before && !once {
			once = true
			runtime.Goexit()
		}
		return nil
	}
}

// killed runs op in a goroutine that may be ended by Goexit, and waits.
func killed(t *testing.T, op func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		op()
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("operation did not end")
	}
}

// TestKillDuringApply kills an apply before and after the kernel changed:
// the next locked operation finds the intent and records what the kernel
// holds, and state and kernel agree.
func TestKillDuringApply(t *testing.T) {
	for _, tc := range []struct {
		name        string
		before      bool
		wantCurrent int
		wantOutcome state.Outcome
	}{
		{name: "before the kernel changed", before: true, wantCurrent: 1, wantOutcome: state.RolledBack},
		{name: "after the kernel changed", before: false, wantCurrent: 2, wantOutcome: state.RolledForward},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			old, next := policyFor(t, "allow"), policyFor(t, "deny")
			if _, err := h.engine().Apply(ctx, old, ApplyOptions{}); err != nil {
				t.Fatal(err)
			}
			killAt(h.k, tc.before)
			killed(t, func() { h.engine().Apply(ctx, next, ApplyOptions{}) })
			h.k.Hook = nil

			// A reader sees the outcome without writing it.
			_, intr, err := h.engine().View()
			if err != nil || intr == nil || intr.Outcome != tc.wantOutcome {
				t.Fatalf("View: interrupted %+v, err %v; want outcome %s", intr, err, tc.wantOutcome)
			}
			if in, _ := h.store.Intent(); in == nil {
				t.Fatal("View wrote the recovery")
			}
			// The next locked operation records it.
			if _, err := h.engine().Confirm(ctx); !errors.Is(err, ErrNothingPending) {
				t.Fatalf("Confirm = %v, want nothing pending", err)
			}
			if got := h.current(); got != tc.wantCurrent {
				t.Errorf("current = %d, want %d", got, tc.wantCurrent)
			}
			if in, _ := h.store.Intent(); in != nil {
				t.Errorf("intent still recorded: %+v", in)
			}
			want := map[int]*Compiled{1: old, 2: next}[tc.wantCurrent]
			h.kernelHolds(want)
			if !strings.Contains(h.notesText(), string(tc.wantOutcome)) && !strings.Contains(h.notesText(), "interrupted") {
				t.Errorf("recovery not reported: %q", h.notesText())
			}
		})
	}
}

func TestConfirmWindow(t *testing.T) {
	for _, tc := range []struct {
		name    string
		confirm bool
		// want is the table in force at the end: "first" or "second".
		want       string
		wantRevert bool
	}{
		{name: "not confirmed: reverted at the deadline", want: "first", wantRevert: true},
		{name: "confirmed: kept", confirm: true, want: "second"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			first, second := policyFor(t, "allow"), policyFor(t, "deny")
			if _, err := h.engine().Apply(ctx, first, ApplyOptions{}); err != nil {
				t.Fatal(err)
			}
			res, err := h.engine().Apply(ctx, second, ApplyOptions{Confirm: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			p := res.Pending
			if p == nil || p.Generation != 2 || p.Previous != 1 || !p.Deadline.Equal(t0.Add(time.Minute)) || p.ReverterPID == 0 {
				t.Fatalf("pending = %+v", p)
			}
			if res.RevertsTo == nil || res.RevertsTo.ID != 1 {
				t.Errorf("RevertsTo = %+v, want generation 1", res.RevertsTo)
			}
			h.kernelHolds(second)
			h.waitWaiting(1)
			h.clk.Advance(30 * time.Second)
			if tc.confirm {
				cr, err := h.engine().Confirm(ctx)
				if err != nil || cr.Confirmed != 2 || cr.Late {
					t.Fatalf("Confirm = %+v, %v", cr, err)
				}
			}
			if !tc.confirm { // a confirmed reverter may have ended already
				h.waitWaiting(1)
			}
			h.clk.Advance(31 * time.Second)
			r := h.reverter(0)
			if r.err != nil {
				t.Fatalf("reverter: %v", r.err)
			}
			if r.res.Reverted != tc.wantRevert {
				t.Fatalf("reverted = %v, want %v", r.res.Reverted, tc.wantRevert)
			}
			h.kernelHolds(map[string]*Compiled{"first": first, "second": second}[tc.want])
			if p, err := h.store.Pending(); p != nil || err != nil {
				t.Errorf("pending after the window: %+v, %v", p, err)
			}
			if tc.wantRevert {
				cur, err := h.store.Current()
				if err != nil || cur.ID != 3 || cur.What() != state.ActionRevert || cur.Source != 1 || cur.Reverts != 2 {
					t.Errorf("current after revert = %+v, %v; want generation 3 reverting 2 to 1", cur, err)
				}
				_, err = h.engine().Confirm(ctx)
				if err == nil || !strings.Contains(err.Error(), "generation 2 was not confirmed in time and was reverted") {
					t.Errorf("late Confirm = %v, want it to say the revert happened", err)
				}
			}
		})
	}
}

// TestConfirmOverPending: a second apply --confirm replaces the first, and
// the revert still goes back to the last confirmed generation.
func TestConfirmOverPending(t *testing.T) {
	h := newHarness(t)
	first := policyFor(t, "allow")
	if _, err := h.engine().Apply(ctx, first, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.engine().Apply(ctx, policyFor(t, "deny"), ApplyOptions{Confirm: time.Minute}); err != nil {
		t.Fatal(err)
	}
	res, err := h.engine().Apply(ctx, policyFor(t, "reject"), ApplyOptions{Confirm: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if res.Pending.Previous != 1 || res.Pending.Replaces == nil || res.Pending.Replaces.Generation != 2 {
		t.Fatalf("pending = %+v", res.Pending)
	}
	h.waitWaiting(2)
	h.clk.Advance(time.Minute)
	if r := h.reverterAdvancing(0); r.err != nil || r.res.Reverted {
		t.Errorf("first reverter = %+v, %v; want superseded", r.res, r.err)
	}
	if r := h.reverterAdvancing(1); r.err != nil || !r.res.Reverted {
		t.Fatalf("second reverter = %+v, %v; want a revert", r.res, r.err)
	}
	h.kernelHolds(first)
}

// TestKillDuringConfirmedApply: killed after the reverter started but
// before the kernel changed, the change is rolled back and the reverter
// finds nothing to revert; killed after, the reverter reverts.
func TestKillDuringConfirmedApply(t *testing.T) {
	for _, tc := range []struct {
		name       string
		before     bool
		wantRevert bool
	}{
		{name: "before the kernel changed", before: true},
		{name: "after the kernel changed", before: false, wantRevert: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			first := policyFor(t, "allow")
			if _, err := h.engine().Apply(ctx, first, ApplyOptions{}); err != nil {
				t.Fatal(err)
			}
			killAt(h.k, tc.before)
			killed(t, func() { h.engine().Apply(ctx, policyFor(t, "deny"), ApplyOptions{Confirm: time.Minute}) })
			h.k.Hook = nil
			h.waitWaiting(1)
			h.clk.Advance(time.Minute)
			r := h.reverter(0)
			if r.err != nil || r.res.Reverted != tc.wantRevert {
				t.Fatalf("reverter = %+v, %v; want reverted %v", r.res, r.err, tc.wantRevert)
			}
			h.kernelHolds(first)
			if p, _ := h.store.Pending(); p != nil {
				t.Errorf("pending left: %+v", p)
			}
		})
	}
}

func TestLockContention(t *testing.T) {
	h := newHarness(t)
	other, err := h.store.Lock(ctx, state.LockOptions{Holder: state.Holder{Command: "leash apply big.yaml"}})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Unlock()
	e := h.engine()
	e.LockTimeout = 50 * time.Millisecond
	_, err = e.Apply(ctx, policyFor(t, "allow"), ApplyOptions{})
	var le *state.LockedError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "let it finish, or wait longer with --lock-timeout") {
		t.Fatalf("Apply = %v, want a lock timeout with the fix", err)
	}
	if !strings.Contains(h.notesText(), "waiting for another leash") || !strings.Contains(h.notesText(), "leash apply big.yaml") {
		t.Errorf("notes = %q, want whom it waited for", h.notesText())
	}
	h.kernelHolds(nil)
}

func TestRollbackAndReset(t *testing.T) {
	h := newHarness(t)
	e := h.engine()
	first, second := policyFor(t, "allow"), policyFor(t, "deny")
	for _, c := range []*Compiled{first, second} {
		if _, err := e.Apply(ctx, c, ApplyOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	rb, err := e.Rollback(ctx, 0)
	if err != nil || rb.Target.ID != 1 || rb.Generation != 3 {
		t.Fatalf("Rollback = %+v, %v", rb, err)
	}
	h.kernelHolds(first)
	id, err := e.Reset(ctx)
	if err != nil || id != 4 {
		t.Fatalf("Reset = %d, %v; want generation 4", id, err)
	}
	h.kernelHolds(nil)
	if _, err := e.Rollback(ctx, 9); err == nil || !strings.Contains(err.Error(), "generation 9 does not exist") {
		t.Errorf("Rollback(9) = %v", err)
	}
	st, err := e.Status()
	if err != nil || st.State != drift.NotApplied || st.Generation.ID != 4 {
		t.Errorf("status after reset = %+v, %v", st, err)
	}
}

func TestRestore(t *testing.T) {
	t.Run("nothing applied", func(t *testing.T) {
		h := newHarness(t)
		h.store.Dir += "/missing"
		res, err := h.engine().Restore(ctx)
		if err != nil || !strings.Contains(res.Nothing, "does not exist") {
			t.Fatalf("Restore = %+v, %v", res, err)
		}
	})
	t.Run("current generation", func(t *testing.T) {
		h := newHarness(t)
		c := policyFor(t, "allow")
		if _, err := h.engine().Apply(ctx, c, ApplyOptions{}); err != nil {
			t.Fatal(err)
		}
		h.k.Reset() // the boot: no table
		res, err := h.engine().Restore(ctx)
		if err != nil || res.Restored == nil || res.Restored.ID != 1 {
			t.Fatalf("Restore = %+v, %v", res, err)
		}
		h.kernelHolds(c)
	})
	t.Run("restart inside a confirmation window", func(t *testing.T) {
		h := newHarness(t)
		first := policyFor(t, "allow")
		if _, err := h.engine().Apply(ctx, first, ApplyOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := h.engine().Apply(ctx, policyFor(t, "deny"), ApplyOptions{Confirm: time.Hour}); err != nil {
			t.Fatal(err)
		}
		h.k.Reset()
		res, err := h.engine().Restore(ctx)
		if err != nil || res.Reverted == nil || res.Reverted.Generation != 2 || res.RevertGeneration != 3 {
			t.Fatalf("Restore = %+v, %v", res, err)
		}
		h.kernelHolds(first)
	})
	t.Run("damaged generation: emergency table", func(t *testing.T) {
		h := newHarness(t)
		if _, err := h.engine().Apply(ctx, policyFor(t, "allow"), ApplyOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := writeFile(h.store.GenerationFile(1), "{"); err != nil {
			t.Fatal(err)
		}
		h.k.Reset()
		_, err := h.engine().Restore(ctx)
		if err == nil || !strings.Contains(err.Error(), "The EMERGENCY table is loaded") {
			t.Fatalf("Restore = %v, want the emergency table", err)
		}
		if tbl := h.k.Table(); tbl == nil || tbl.Chain("output") == nil {
			t.Errorf("kernel does not hold the emergency table:\n%s", h.k.Dump())
		}
	})
}

func TestStatusSeesTampering(t *testing.T) {
	h := newHarness(t)
	e := h.engine()
	if _, err := e.Apply(ctx, policyFor(t, "allow"), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	h.k.Tamper(func(rs *ruleset.Ruleset) { rs.Chains[0].Rules = rs.Chains[0].Rules[1:] })
	st, err := e.Status()
	if err != nil || st.State != drift.Drifted || len(st.Changes) == 0 {
		t.Fatalf("status = %+v, %v; want drifted with changes", st, err)
	}
	h.k.Tamper(nil, `chain output: rule 7: foreign expression`)
	st, err = e.Status()
	if err != nil || st.State != drift.Drifted || len(st.Foreign) != 1 {
		t.Fatalf("status = %+v, %v; want drifted with foreign content", st, err)
	}
}

func TestReapply(t *testing.T) {
	h := newHarness(t)
	e := h.engine()
	first := policyFor(t, "allow")
	if _, err := e.Apply(ctx, first, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	same := func(context.Context, *state.Generation) (*Compiled, error) { return first, nil }
	res, err := e.Reapply(ctx, same)
	if err != nil || res.Changed || res.Generation != 1 {
		t.Fatalf("Reapply (unchanged) = %+v, %v", res, err)
	}
	moved := policyFor(t, "deny")
	res, err = e.Reapply(ctx, func(context.Context, *state.Generation) (*Compiled, error) { return moved, nil })
	if err != nil || !res.Changed || res.Generation != 2 || res.Diff == "" {
		t.Fatalf("Reapply (changed) = %+v, %v", res, err)
	}
	h.kernelHolds(moved)
	cur, _ := h.store.Current()
	if cur.What() != state.ActionReapply || cur.Source != 1 || string(cur.Policy) != string(first.Source) {
		t.Errorf("reapply record = %+v", cur.Meta)
	}
}

// TestInterrupt: a cancelled context (Ctrl-C, SIGTERM) before the kernel
// changes stops the apply with nothing changed; once the kernel change has
// begun, it is finished and recorded.
func TestInterrupt(t *testing.T) {
	t.Run("before the change", func(t *testing.T) {
		h := newHarness(t)
		first := policyFor(t, "allow")
		if _, err := h.engine().Apply(ctx, first, ApplyOptions{}); err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := h.engine().Apply(cctx, policyFor(t, "deny"), ApplyOptions{})
		if !errors.Is(err, ErrInterrupted) || !errors.Is(err, context.Canceled) {
			t.Fatalf("Apply = %v, want interrupted", err)
		}
		h.kernelHolds(first)
		if ids, _ := h.store.IDs(); len(ids) != 1 {
			t.Errorf("generations %v after an interrupted apply, want [1]", ids)
		}
	})
	t.Run("during the change", func(t *testing.T) {
		h := newHarness(t)
		cctx, cancel := context.WithCancel(ctx)
		h.k.Hook = func(op string, before bool) error {
			if before {
				cancel() // the signal arrives while the transaction is sent
			}
			return nil
		}
		c := policyFor(t, "deny")
		res, err := h.engine().Apply(cctx, c, ApplyOptions{})
		if err != nil || res.Generation != 1 {
			t.Fatalf("Apply = %+v, %v; want it finished and recorded", res, err)
		}
		h.kernelHolds(c)
		if h.current() != 1 {
			t.Errorf("current = %d, want 1", h.current())
		}
	})
}

// TestApplyUnchanged: applying what is already enforced records nothing;
// once the kernel drifted, the same apply repairs it as a new generation.
func TestApplyUnchanged(t *testing.T) {
	h := newHarness(t)
	c := policyFor(t, "allow")
	for i, want := range []struct {
		gen       int
		unchanged bool
	}{{1, false}, {1, true}} {
		res, err := h.engine().Apply(ctx, c, ApplyOptions{})
		if err != nil || res.Generation != want.gen || res.Unchanged != want.unchanged {
			t.Fatalf("apply %d = %+v, %v; want generation %d, unchanged %v", i+1, res, err, want.gen, want.unchanged)
		}
	}
	h.k.Tamper(func(rs *ruleset.Ruleset) { rs.Chains[0].Rules = nil })
	res, err := h.engine().Apply(ctx, c, ApplyOptions{})
	if err != nil || res.Unchanged || res.Generation != 2 {
		t.Fatalf("apply over a drifted table = %+v, %v; want generation 2", res, err)
	}
	h.kernelHolds(c)
}

// TestRepair: a table another tool removed or changed is loaded again,
// without a new generation; an intact one is left alone.
func TestRepair(t *testing.T) {
	h := newHarness(t)
	c := policyFor(t, "deny")
	if _, err := h.engine().Apply(ctx, c, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := h.engine().Repair(ctx)
	if err != nil || res.Repaired {
		t.Fatalf("Repair of an intact table = %+v, %v", res, err)
	}
	must(t, h.k.Reset()) // nft flush ruleset
	res, err = h.engine().Repair(ctx)
	if err != nil || !res.Repaired || res.Was != drift.Missing {
		t.Fatalf("Repair of a missing table = %+v, %v", res, err)
	}
	h.kernelHolds(c)
	h.k.Tamper(func(rs *ruleset.Ruleset) { rs.Chains[0].Rules = nil })
	if res, err = h.engine().Repair(ctx); err != nil || res.Was != drift.Drifted {
		t.Fatalf("Repair of a drifted table = %+v, %v", res, err)
	}
	h.kernelHolds(c)
	if ids, _ := h.store.IDs(); len(ids) != 1 {
		t.Errorf("generations %v after repairs, want [1]", ids)
	}
}
