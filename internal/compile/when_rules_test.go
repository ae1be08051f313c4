package compile

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/leash-dev/leash/internal/eval"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
)

// TestTimedRules: a rule with a window decides only inside it; outside,
// the later rules it overlaps decide (their lookup entries are not lost to
// it), and a policy's window applies to each of its rules.
func TestTimedRules(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	business := &policy.When{Windows: []policy.Window{{Days: 0b0111110, Spans: []policy.Span{{Start: 8 * 60, End: 18 * 60}}, Zone: "Europe/Berlin", Loc: berlin}}}
	night := &policy.When{Windows: []policy.Window{{Days: 0x7f, Spans: []policy.Span{{Start: 22 * 60, End: 30 * 60}}, Zone: "Europe/Berlin", Loc: berlin}}}
	r := flatPolicy(
		&policy.ResolvedRule{Action: policy.Allow, To: to("10.0.0.0/8"), Protos: tcp(443), When: business},
		&policy.ResolvedRule{Action: policy.Reject, To: to("10.1.0.0/16"), Protos: tcp(443, 22)},
		&policy.ResolvedRule{Action: policy.Allow, To: to("10.2.0.0/16"), Protos: tcp(443, 22)},
		&policy.ResolvedRule{Action: policy.Deny, To: to("10.3.0.0/16"), Protos: tcp(80), When: night},
		&policy.ResolvedRule{Action: policy.Allow, To: to("10.3.0.0/16", "10.4.0.0/16"), Protos: tcp(80)},
	)
	r.At = time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC) // Monday
	rs, warnings := CompileWithWarnings(r)
	if err := ruleset.Validate(rs); err != nil {
		t.Fatal(err)
	}
	if len(warnings) > 0 {
		t.Errorf("warnings: %v", warnings)
	}
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, berlin)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name string
		to   string
		port uint16
		at   string // Europe/Berlin
		want string // the deciding rule's origin
	}{
		{"inside the window r1 allows", "10.1.2.3", 443, "2026-12-07 09:00", "p/r1"},
		{"outside it r2 rejects", "10.1.2.3", 443, "2026-12-07 19:00", "p/r2"},
		{"outside it r3 allows", "10.2.2.3", 443, "2026-12-07 07:59", "p/r3"},
		{"on Saturday r2 rejects", "10.1.2.3", 443, "2026-12-12 09:00", "p/r2"},
		{"r1 ends at 18:00", "10.9.9.9", 443, "2026-12-07 18:00", "p/default"},
		{"r1 starts at 08:00", "10.9.9.9", 443, "2026-12-08 08:00", "p/r1"},
		{"the night deny, after midnight", "10.3.0.1", 80, "2026-12-08 05:59", "p/r4"},
		{"by day r5 allows", "10.3.0.1", 80, "2026-12-08 06:00", "p/r5"},
		{"r5's other destination", "10.4.0.1", 80, "2026-12-08 23:00", "p/r5"},
		{"past the horizon the deny holds", "10.3.0.1", 80, "2027-01-30 12:00", "p/r4"},
		{"past the horizon the allow does not", "10.9.9.9", 443, "2027-02-01 09:00", "p/default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := eval.Evaluate(rs, eval.Packet{Owned: true, UID: 1000, Daddr: netip.MustParseAddr(tt.to),
				Proto: ruleset.ProtoTCP, Dport: tt.port, At: at(tt.at)})
			if err != nil {
				t.Fatal(err)
			}
			got := "accept (no rule)"
			if res.Rule != nil {
				got = res.Rule.Origin.ID
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("deciding rule (-want +got):\n%s", diff)
			}
		})
	}
	// The untimed rules still share one lookup: r2 and r3 (and r5 after
	// the timed r4 it overlaps) are map entries, not rules of their own.
	lookups := 0
	for _, rule := range rs.Chain("p_p").Rules {
		if rule.Verdict.Kind == ruleset.VMap {
			lookups++
		}
	}
	if lookups != 1 {
		t.Errorf("%d shared lookups in p_p, want 1:\n%s", lookups, ruleset.Text(rs, ruleset.TextOptions{}))
	}
}

// TestWindowRun: rules with one window share one time lookup and, inside
// it, one shared lookup: a run of 100 business-hours rules costs a packet
// two lookups, not 100.
func TestWindowRun(t *testing.T) {
	w := &policy.When{Windows: []policy.Window{{Days: 0x7f, Spans: []policy.Span{{Start: 0, End: 60}}, Loc: time.UTC}}}
	var rules []*policy.ResolvedRule
	for i := range 100 {
		rules = append(rules, &policy.ResolvedRule{Action: policy.Allow, To: to(netip.AddrFrom4([4]byte{10, 0, byte(i), 1}).String() + "/32"), Protos: tcp(443), When: w})
	}
	r := flatPolicy(rules...)
	r.At = time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	rs := Compile(r)
	if err := ruleset.Validate(rs); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, name := range []string{"p_p", "p_p.w1"} {
		for _, rule := range rs.Chain(name).Rules {
			got = append(got, name+": "+ruleset.RuleText(rs, rule, false))
		}
	}
	want := []string{
		`p_p: exthdr rt exists counter drop comment "p/routing-header"`,
		`p_p: ip option lsrr exists counter drop comment "p/source-route"`,
		`p_p: ip option ssrr exists counter drop comment "p/source-route"`,
		`p_p: meta time @p_w1_time counter jump p_p.w1 comment "p/w1"`,
		`p_p: counter drop comment "p/default"`,
		`p_p.w1: counter ip daddr . meta l4proto . th dport vmap @p_m1_v4 comment "p/m1"`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("chains (-want +got):\n%s", diff)
	}
}
