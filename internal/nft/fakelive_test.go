package nft

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/leash-dev/leash/internal/clock"
	"github.com/leash-dev/leash/internal/ruleset"
)

func fakeLiveTable() *ruleset.Ruleset {
	s := &ruleset.Set{Name: "mail4", Kind: ruleset.KindIPv4, Live: &ruleset.Live{Timeout: time.Hour, Size: 3, Counters: true, Source: "host:mail.example.com"}}
	s.SetElements([]ruleset.Element{{Addr: netip.MustParseAddr("192.0.2.1")}})
	return &ruleset.Ruleset{Sets: []*ruleset.Set{s, {Name: "static4", Kind: ruleset.KindIPv4}},
		Chains: []*ruleset.Chain{{Name: "out", Hook: &ruleset.Hook{Hook: "output"}}}}
}

func fakeKeys(t *testing.T, f *Fake) string {
	t.Helper()
	var out []string
	for _, e := range f.Table().Set("mail4").Elements() {
		out = append(out, e.Key())
	}
	return strings.Join(out, " ")
}

// TestFakeUpdateElements: the fake's updates are atomic (a refusal or one
// bad op changes nothing), refresh a present element keeping its counter,
// respect the size, and expire on the clock.
func TestFakeUpdateElements(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	f := NewFake()
	f.Clock = clk
	if err := f.UpdateElements([]ruleset.ElementOp{{Set: "mail4"}}); err == nil {
		t.Error("UpdateElements without a table succeeded")
	}
	if err := f.Apply(fakeLiveTable()); err != nil {
		t.Fatal(err)
	}
	a, b, c, d := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3"), netip.MustParseAddr("192.0.2.4")
	op := func(x netip.Addr, timeout time.Duration) ruleset.ElementOp {
		return ruleset.ElementOp{Set: "mail4", Elem: ruleset.Element{Addr: x, ElementState: ruleset.ElementState{Timeout: timeout}}}
	}
	f.RefuseNext(nil)
	if err := f.UpdateElements([]ruleset.ElementOp{op(b, 0)}); !errors.Is(err, ErrRefused) {
		t.Errorf("refused update = %v", err)
	}
	if err := f.UpdateElements([]ruleset.ElementOp{op(b, 0), {Set: "static4", Elem: ruleset.Element{Addr: c}}}); err == nil || !strings.Contains(err.Error(), "not a live set") {
		t.Errorf("update with a static set = %v", err)
	}
	if err := f.UpdateElements([]ruleset.ElementOp{op(b, 0), op(c, 0), op(d, 0)}); err == nil || !strings.Contains(err.Error(), "full") {
		t.Errorf("update past the size = %v", err)
	}
	if got := fakeKeys(t, f); got != "192.0.2.1" {
		t.Fatalf("after refusals: %s", got)
	}
	if err := f.UpdateElements([]ruleset.ElementOp{op(b, time.Minute), op(c, 0)}); err != nil {
		t.Fatal(err)
	}
	if !f.AddCount("mail4", ruleset.Element{Addr: a}, 2, 100) {
		t.Fatal("AddCount")
	}
	clk.Advance(30 * time.Minute)
	if err := f.UpdateElements([]ruleset.ElementOp{op(a, 0)}); err != nil { // refresh
		t.Fatal(err)
	}
	got := f.Table().Set("mail4").Elements()
	if len(got) != 2 || got[0].Packets != 2 || got[0].Expires != time.Hour || got[1].Expires != 30*time.Minute {
		t.Errorf("after refresh = %+v (want 192.0.2.2 expired, 192.0.2.1 refreshed with its counter)", got)
	}
	clk.Advance(45 * time.Minute)
	if got := fakeKeys(t, f); got != "192.0.2.1" {
		t.Errorf("after 45m more: %s", got)
	}
}
