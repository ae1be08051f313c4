package eval_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/leash-dev/leash/internal/eval"
	"github.com/leash-dev/leash/internal/ruleset"
)

// TestClosedWindow: a rule passed over only because its window is closed
// is named, whether it decides itself or through the chain of a window run;
// a rule that would not match anyway, or an open window, names nothing.
func TestClosedWindow(t *testing.T) {
	open := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	closed := time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC)
	win := &ruleset.Set{Name: "w", Kind: ruleset.KindTime, Interval: true,
		Times: []ruleset.TimeRange{{From: open.Add(-time.Hour).UnixNano(), To: open.Add(time.Hour).UnixNano()}}}
	dest := &ruleset.Set{Name: "d", Kind: ruleset.KindIPv4, Prefixes: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}
	timed := ruleset.Match{Kind: ruleset.MatchTime, Set: "w"}
	toDest := ruleset.Match{Kind: ruleset.MatchDaddr, Set: "d"}
	r1 := &ruleset.Rule{Match: []ruleset.Match{timed, toDest}, Verdict: ruleset.Verdict{Kind: ruleset.Accept}, Origin: ruleset.Origin{ID: "p/r1"}}
	r2 := &ruleset.Rule{Match: []ruleset.Match{toDest}, Verdict: ruleset.Verdict{Kind: ruleset.Accept}, Origin: ruleset.Origin{ID: "p/r2"}}
	drop := &ruleset.Rule{Verdict: ruleset.Verdict{Kind: ruleset.Drop}, Origin: ruleset.Origin{ID: "p/default"}}
	run := &ruleset.Rule{Match: []ruleset.Match{timed}, Verdict: ruleset.Verdict{Kind: ruleset.Jump, Chain: "run"}, Origin: ruleset.Origin{ID: "p/w1"}}
	for _, tc := range []struct {
		name       string
		rules      []*ruleset.Rule
		at         time.Time
		addr       string
		wantRule   string
		wantClosed string
	}{
		{name: "closed rule", rules: []*ruleset.Rule{r1, drop}, at: closed, addr: "192.0.2.1", wantRule: "p/default", wantClosed: "p/r1"},
		{name: "open rule", rules: []*ruleset.Rule{r1, drop}, at: open, addr: "192.0.2.1", wantRule: "p/r1"},
		{name: "other destination", rules: []*ruleset.Rule{r1, drop}, at: closed, addr: "198.51.100.1", wantRule: "p/default"},
		{name: "closed run", rules: []*ruleset.Rule{run, drop}, at: closed, addr: "192.0.2.1", wantRule: "p/default", wantClosed: "p/r2"},
		{name: "open run", rules: []*ruleset.Rule{run, drop}, at: open, addr: "192.0.2.1", wantRule: "p/r2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := &ruleset.Ruleset{Sets: []*ruleset.Set{win, dest}, Chains: []*ruleset.Chain{
				{Name: "output", Hook: &ruleset.Hook{Hook: "output"}, Rules: tc.rules},
				{Name: "run", Rules: []*ruleset.Rule{r2}},
			}}
			res, err := eval.Evaluate(rs, eval.Packet{Owned: true, Daddr: netip.MustParseAddr(tc.addr), Proto: ruleset.ProtoTCP, Dport: 443, At: tc.at})
			if err != nil {
				t.Fatal(err)
			}
			got := struct{ Rule, Closed string }{Rule: res.Rule.Origin.ID}
			if res.Closed != nil {
				got.Closed = res.Closed.Origin.ID
			}
			if diff := cmp.Diff(struct{ Rule, Closed string }{tc.wantRule, tc.wantClosed}, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
