package engine

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/leash-dev/leash/internal/drift"
	"github.com/leash-dev/leash/internal/nft"
	"github.com/leash-dev/leash/internal/ruleset"
)

var (
	addrA = netip.MustParseAddr("192.0.2.1")
	addrB = netip.MustParseAddr("192.0.2.2")
	addrC = netip.MustParseAddr("192.0.2.3")
)

// liveCompiled is policyFor(everyone) with a live set "mail4" (timeout
// 1h, counting, fed by host:mail.example.com) holding addrA as compiled.
func liveCompiled(t *testing.T, everyone string) *Compiled {
	t.Helper()
	c := policyFor(t, everyone)
	s := &ruleset.Set{Name: "mail4", Kind: ruleset.KindIPv4,
		Live: &ruleset.Live{Timeout: time.Hour, Counters: true, Source: ruleset.SourceHost("mail.example.com")}}
	s.SetElements([]ruleset.Element{{Addr: addrA}})
	c.Ruleset.Sets = append(c.Ruleset.Sets, s)
	if err := ruleset.Validate(c.Ruleset); err != nil {
		t.Fatal(err)
	}
	return c
}

// liveHarness is a harness whose fake kernel ages live elements on the
// fake clock.
func liveHarness(t *testing.T) *harness {
	h := newHarness(t)
	h.k.Clock = h.clk
	return h
}

// liveApplied is a live harness whose engine has applied the "allow"
// policy of liveCompiled and then made the live updates ops, if any.
func liveApplied(t *testing.T, ops ...ruleset.ElementOp) (*harness, *Engine) {
	t.Helper()
	h := liveHarness(t)
	e := h.engine()
	if _, err := e.Apply(ctx, liveCompiled(t, "allow"), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(ops) > 0 {
		if _, err := e.UpdateLive(ctx, ops); err != nil {
			t.Fatal(err)
		}
	}
	return h, e
}

func add(a netip.Addr) ruleset.ElementOp {
	return ruleset.ElementOp{Set: "mail4", Elem: ruleset.Element{Addr: a}}
}

// kernelElements is the fake kernel's elements of live set name.
func (h *harness) kernelElements(name string) []ruleset.Element {
	h.t.Helper()
	tbl := h.k.Table()
	if tbl == nil || tbl.Set(name) == nil {
		h.t.Fatalf("kernel has no set %s:\n%s", name, h.k.Dump())
	}
	return tbl.Set(name).Elements()
}

func keys(elems []ruleset.Element) string {
	var out []string
	for _, e := range elems {
		out = append(out, e.Key())
	}
	return strings.Join(out, " ")
}

// snapshotKeys is the recorded live snapshot's keys of set name.
func (h *harness) snapshotKeys(name string) string {
	h.t.Helper()
	snap, err := h.store.Live()
	if err != nil || snap == nil || snap.Set(name) == nil {
		h.t.Fatalf("live snapshot: %+v, %v", snap, err)
	}
	return keys(snap.Set(name).Elements())
}

// TestUpdateLive: an update changes the kernel's live set in one
// transaction and records the snapshot, without a new generation; status
// stays in sync; elements expire on the clock, still in sync.
func TestUpdateLive(t *testing.T) {
	h, e := liveApplied(t)
	res, err := e.UpdateLive(ctx, []ruleset.ElementOp{add(addrB), add(addrC), {Set: "mail4", Delete: true, Elem: ruleset.Element{Addr: addrA}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Ops != 3 || keys(res.Sets[0].Elements()) != "192.0.2.2 192.0.2.3" {
		t.Errorf("UpdateLive = %+v", res)
	}
	if got := keys(h.kernelElements("mail4")); got != "192.0.2.2 192.0.2.3" {
		t.Errorf("kernel mail4 = %s", got)
	}
	if got := h.snapshotKeys("mail4"); got != "192.0.2.2 192.0.2.3" {
		t.Errorf("snapshot mail4 = %s", got)
	}
	for i := range 60 { // a TTL refresh every minute for an hour: no generation
		h.clk.Advance(time.Minute)
		if _, err := e.UpdateLive(ctx, []ruleset.ElementOp{add(addrB)}); err != nil {
			t.Fatalf("refresh %d: %v", i, err)
		}
	}
	if ids, _ := h.store.IDs(); !cmp.Equal(ids, []int{1}) {
		t.Errorf("generations after live updates = %v, want [1]", ids)
	}
	if got := keys(h.kernelElements("mail4")); got != "192.0.2.2" {
		t.Errorf("after an hour of refreshes mail4 = %s, want 192.0.2.2 alone (192.0.2.3 expired)", got)
	}
	st, err := e.Status()
	if err != nil || st.State != drift.InSync {
		t.Fatalf("status after live updates = %+v, %v; want in sync", st, err)
	}
	h.clk.Advance(2 * time.Hour)
	if got := keys(h.kernelElements("mail4")); got != "" {
		t.Errorf("after 2h mail4 = %s, want empty", got)
	}
	if st, _ := e.Status(); st.State != drift.InSync {
		t.Errorf("status with the live set expired = %s, want in sync", st.State)
	}
}

// TestUpdateLiveRefused: a refused transaction, or one bad op among good
// ones, changes neither the kernel nor the snapshot.
func TestUpdateLiveRefused(t *testing.T) {
	h, e := liveApplied(t)
	before, _ := h.store.Live()
	h.k.RefuseNext(nil)
	if _, err := e.UpdateLive(ctx, []ruleset.ElementOp{add(addrB)}); !errors.Is(err, nft.ErrRefused) {
		t.Errorf("UpdateLive = %v, want the kernel's refusal", err)
	}
	bad := []ruleset.ElementOp{add(addrB), {Set: "mail4", Elem: ruleset.Element{Addr: netip.MustParseAddr("2001:db8::1")}}}
	if _, err := e.UpdateLive(ctx, bad); err == nil || !strings.Contains(err.Error(), "nothing changed") {
		t.Errorf("UpdateLive with a bad op = %v, want refused", err)
	}
	static := h.k.Table().Sets[0].Name
	if _, err := e.UpdateLive(ctx, []ruleset.ElementOp{{Set: static, Elem: ruleset.Element{Addr: addrB}}}); err == nil || !strings.Contains(err.Error(), "not a live set") {
		t.Errorf("UpdateLive on static set %s = %v, want refused", static, err)
	}
	if got := keys(h.kernelElements("mail4")); got != "192.0.2.1" {
		t.Errorf("kernel mail4 after refusals = %s, want 192.0.2.1", got)
	}
	after, _ := h.store.Live()
	if diff := cmp.Diff(before, after, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("refusals changed the live snapshot (-before +after):\n%s", diff)
	}
}

// TestApplyCarriesLive: a full apply (a new policy, a rollback) carries the
// kernel's live elements into the new table with their counters and the
// rest of their lifetime; a live set of another source starts afresh.
func TestApplyCarriesLive(t *testing.T) {
	h, e := liveApplied(t, add(addrB))
	if !h.k.AddCount("mail4", ruleset.Element{Addr: addrB}, 7, 700) {
		t.Fatal("AddCount found no element")
	}
	h.clk.Advance(10 * time.Minute)
	if _, err := e.Apply(ctx, liveCompiled(t, "deny"), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	got := h.kernelElements("mail4")
	if keys(got) != "192.0.2.1 192.0.2.2" {
		t.Fatalf("mail4 after apply = %s, want both", keys(got))
	}
	if b := got[1]; b.Packets != 7 || b.Bytes != 700 || b.Expires != 50*time.Minute {
		t.Errorf("carried %v = %+v, want counters 7/700 and 50m left", addrB, b.ElementState)
	}
	if a := got[0]; a.Expires != time.Hour {
		t.Errorf("compiled %v = %+v, want a fresh hour", addrA, a.ElementState)
	}
	// Rollback to generation 1 goes through the same path.
	if _, err := e.Rollback(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if got := h.kernelElements("mail4"); keys(got) != "192.0.2.1 192.0.2.2" || got[1].Packets != 7 {
		t.Errorf("mail4 after rollback = %+v", got)
	}
	// Another source: nothing carried.
	other := liveCompiled(t, "allow")
	other.Ruleset.Set("mail4").Live.Source = "host:other.example.com"
	if _, err := e.Apply(ctx, other, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := keys(h.kernelElements("mail4")); got != "192.0.2.1" {
		t.Errorf("mail4 of another source = %s, want the compiled element only", got)
	}
}

// TestRestoreReaddsLive: at boot (no table) restore re-adds the snapshot's
// elements; those whose lifetime ran out during the outage get the set's
// default timeout, so the set is never emptied by a reboot.
func TestRestoreReaddsLive(t *testing.T) {
	for _, tc := range []struct {
		name    string
		outage  time.Duration
		expires time.Duration
	}{
		{"short reboot", 20 * time.Minute, 40 * time.Minute},
		{"long outage", 3 * time.Hour, time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := liveHarness(t)
			e := h.engine()
			if _, err := e.Apply(ctx, liveCompiled(t, "allow"), ApplyOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.UpdateLive(ctx, []ruleset.ElementOp{add(addrB)}); err != nil {
				t.Fatal(err)
			}
			h.k.Reset() // the boot: no table
			h.clk.Advance(tc.outage)
			if _, err := h.engine().Restore(ctx); err != nil {
				t.Fatal(err)
			}
			got := h.kernelElements("mail4")
			if keys(got) != "192.0.2.1 192.0.2.2" || got[1].Expires != tc.expires {
				t.Errorf("mail4 after restore = %+v, want %v with %s left", got, addrB, tc.expires)
			}
			if st, _ := e.Status(); st.State != drift.InSync {
				t.Errorf("status after restore = %s", st.State)
			}
		})
	}
}

// TestRecoveryWithLive: an apply killed after the kernel changed is rolled
// forward although the kernel's live set holds elements the new generation
// does not (carried, updated): recovery compares live sets by declaration.
func TestRecoveryWithLive(t *testing.T) {
	h, _ := liveApplied(t, add(addrB), add(addrC))
	killAt(h.k, false)
	killed(t, func() { h.engine().Apply(ctx, liveCompiled(t, "deny"), ApplyOptions{}) })
	h.k.Hook = nil
	if _, err := h.engine().UpdateLive(ctx, []ruleset.ElementOp{{Set: "mail4", Delete: true, Elem: ruleset.Element{Addr: addrC}}}); err != nil {
		t.Fatal(err)
	}
	if got := h.current(); got != 2 {
		t.Errorf("current after recovery = %d, want 2 (rolled forward)\n%s", got, h.notesText())
	}
	if !strings.Contains(h.notesText(), "is now the current generation") {
		t.Errorf("recovery notes: %s", h.notesText())
	}
	if got := keys(h.kernelElements("mail4")); got != "192.0.2.1 192.0.2.2" {
		t.Errorf("mail4 = %s", got)
	}
}

// TestStatusSeesLiveDeclarationDrift: a live set whose declaration changed
// behind leash's back is drift, its elements alone are not.
func TestStatusSeesLiveDeclarationDrift(t *testing.T) {
	h, e := liveApplied(t)
	h.k.Tamper(func(rs *ruleset.Ruleset) { rs.Set("mail4").Live.Timeout = time.Minute })
	st, err := e.Status()
	if err != nil || st.State != drift.Drifted {
		t.Fatalf("status = %+v, %v; want drifted", st, err)
	}
	if len(st.Changes) != 1 || !strings.Contains(st.Changes[0].String(), "timeout 1m, size 0, counters true") {
		t.Errorf("changes = %v", st.Changes)
	}
}

// TestRestoreWithDamagedSnapshot: a damaged live snapshot does not stop a
// restore: the live set starts from its compiled elements, with a warning.
func TestRestoreWithDamagedSnapshot(t *testing.T) {
	h, _ := liveApplied(t, add(addrB))
	if err := writeFile(h.store.LiveFile(), "{"); err != nil {
		t.Fatal(err)
	}
	h.k.Reset()
	if _, err := h.engine().Restore(ctx); err != nil {
		t.Fatal(err)
	}
	if got := keys(h.kernelElements("mail4")); got != "192.0.2.1" {
		t.Errorf("mail4 = %s, want the compiled element", got)
	}
	if !strings.Contains(h.notesText(), "live snapshot is unusable") {
		t.Errorf("no warning: %s", h.notesText())
	}
	if got := h.snapshotKeys("mail4"); got != "192.0.2.1" {
		t.Errorf("snapshot after restore = %s, want it rewritten", got)
	}
}

// TestRepairWithLive: the daemon's periodic repair leaves a table whose
// live sets merely changed alone, and reloads an edited one carrying the
// live elements; a flushed table gets the snapshot's.
func TestRepairWithLive(t *testing.T) {
	h, e := liveApplied(t, add(addrB))
	if res, err := e.Repair(ctx); err != nil || res.Repaired {
		t.Fatalf("Repair after a live update = %+v, %v; want nothing to repair", res, err)
	}
	h.k.Tamper(func(rs *ruleset.Ruleset) { rs.Chains[0].Rules = rs.Chains[0].Rules[1:] })
	if res, err := e.Repair(ctx); err != nil || !res.Repaired {
		t.Fatalf("Repair of an edited table = %+v, %v", res, err)
	}
	if got := keys(h.kernelElements("mail4")); got != "192.0.2.1 192.0.2.2" {
		t.Errorf("mail4 after repairing an edit = %s", got)
	}
	h.k.Reset() // nft flush ruleset
	if res, err := e.Repair(ctx); err != nil || !res.Repaired {
		t.Fatalf("Repair of a flushed table = %+v, %v", res, err)
	}
	if got := keys(h.kernelElements("mail4")); got != "192.0.2.1 192.0.2.2" {
		t.Errorf("mail4 after repairing a flush = %s", got)
	}
}
