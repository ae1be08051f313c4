package drift

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/leash-dev/leash/internal/ruleset"
)

// table is a small ruleset in the shape compile produces: a lan set, a uid
// map and a policy chain.
func table() *ruleset.Ruleset {
	return &ruleset.Ruleset{
		Sets: []*ruleset.Set{{Name: "web_r1_v4", Kind: ruleset.KindIPv4, Prefixes: []netip.Prefix{
			netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.0.0/16"),
		}}},
		Maps: []*ruleset.Map{{Name: "users", Key: ruleset.KindUID, Entries: []ruleset.MapEntry{{Range: ruleset.Range{Lo: 1000, Hi: 1000}, Chain: "p_web"}}}},
		Chains: []*ruleset.Chain{
			{Name: "output", Hook: &ruleset.Hook{Hook: "output"}, Rules: []*ruleset.Rule{
				{Verdict: ruleset.Verdict{Kind: ruleset.VMap, Map: "users"}, Origin: ruleset.Origin{ID: "dispatch/users", What: "dispatch"}},
			}},
			{Name: "p_web", Rules: []*ruleset.Rule{
				// Not canonical: the kernel holds `meta nfproto ipv4` in front.
				{Match: []ruleset.Match{{Kind: ruleset.MatchDaddr, Set: "web_r1_v4"}}, Verdict: ruleset.Verdict{Kind: ruleset.Drop}, Origin: ruleset.Origin{ID: "web/r1", Policy: "web", What: "rule"}},
				{Verdict: ruleset.Verdict{Kind: ruleset.Accept}, Origin: ruleset.Origin{ID: "web/default", Policy: "web", What: "default"}},
			}},
		},
	}
}

// edit returns a canonical copy of table() changed by fn, as the kernel
// would read it back.
func edit(fn func(rs *ruleset.Ruleset)) *ruleset.Ruleset {
	rs := ruleset.Canonical(table())
	fn(rs)
	return rs
}

func TestCompare(t *testing.T) {
	for _, tc := range []struct {
		name        string
		applied     *ruleset.Ruleset
		seen        Observed
		want        State
		wantChanges []string
		wantForeign []string
		wantDiff    []string // prefixes of lines the diff must contain
	}{
		{name: "nothing", want: NotApplied},
		{name: "table gone", applied: table(), want: Missing},
		{
			name:    "untouched (kernel reads back canonical form)",
			applied: table(),
			seen:    Observed{Exists: true, Table: edit(func(*ruleset.Ruleset) {})},
			want:    InSync,
		},
		{
			name:    "counters do not count",
			applied: table(),
			seen: Observed{Exists: true, Table: edit(func(rs *ruleset.Ruleset) {
				rs.Chains[1].Rules[0].Packets, rs.Chains[1].Rules[0].Bytes = 7, 420
			})},
			want: InSync,
		},
		{
			name:    "foreign rule",
			applied: table(),
			seen:    Observed{Exists: true, Foreign: []string{"chain output handle 9: expressions leash does not use"}},
			want:    Drifted, wantForeign: []string{"chain output handle 9: expressions leash does not use"},
		},
		{
			name:    "element deleted, rule added",
			applied: table(),
			seen: Observed{Exists: true, Table: edit(func(rs *ruleset.Ruleset) {
				rs.Sets[0].Prefixes = rs.Sets[0].Prefixes[:1]
				rs.Chains[0].Rules = append(rs.Chains[0].Rules, &ruleset.Rule{Verdict: ruleset.Verdict{Kind: ruleset.Accept}})
			})},
			want: Drifted,
			wantChanges: []string{
				"removed element in set web_r1_v4: 192.168.0.0/16",
				"added rule in chain output: counter accept",
			},
			wantDiff: []string{"--- generation 1", "+++ kernel", "-\t\telements = { 10.0.0.0", "+\t\tcounter accept"},
		},
		{
			name:    "whole set, map entry and chain",
			applied: table(),
			seen: Observed{Exists: true, Table: edit(func(rs *ruleset.Ruleset) {
				rs.Sets = append(rs.Sets, &ruleset.Set{Name: "extra", Kind: ruleset.KindPort, Ranges: []ruleset.Range{{Lo: 22, Hi: 22}}})
				rs.Maps[0].Entries[0].Range = ruleset.Range{Lo: 1000, Hi: 1001}
				rs.Chains = rs.Chains[:1]
			})},
			want: Drifted,
			wantChanges: []string{
				"added set extra",
				"removed element in map users: 1000 : jump p_web",
				"added element in map users: 1000-1001 : jump p_web",
				"removed chain p_web",
			},
		},
		{
			name:    "reordered rules",
			applied: table(),
			seen: Observed{Exists: true, Table: edit(func(rs *ruleset.Ruleset) {
				r := rs.Chains[1].Rules
				r[0], r[1] = r[1], r[0]
			})},
			want:        Drifted,
			wantChanges: []string{"changed chain p_web: same rules in another order"},
		},
		{
			name:     "table but no generation",
			seen:     Observed{Exists: true, Table: table()},
			want:     Drifted,
			wantDiff: []string{"+table inet leash {"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Compare(tc.applied, tc.seen, "generation 1")
			if got.State != tc.want {
				t.Errorf("State = %q, want %q", got.State, tc.want)
			}
			var changes []string
			for _, c := range got.Changes {
				changes = append(changes, c.String())
			}
			if diff := cmp.Diff(tc.wantChanges, changes, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Changes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantForeign, got.Foreign, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Foreign (-want +got):\n%s", diff)
			}
			if (got.Diff == "") != (tc.want != Drifted || tc.wantForeign != nil) {
				t.Errorf("Diff = %q for state %q", got.Diff, got.State)
			}
			lines := strings.Split(got.Diff, "\n")
			for _, w := range tc.wantDiff {
				if !contains(lines, w) {
					t.Errorf("diff lacks line %q:\n%s", w, got.Diff)
				}
			}
		})
	}
}

// contains reports whether a line starts with s.
func contains(lines []string, s string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, s) {
			return true
		}
	}
	return false
}

func TestHealthy(t *testing.T) {
	for _, tc := range []struct {
		state State
		want  bool
	}{{InSync, true}, {NotApplied, true}, {Drifted, false}, {Missing, false}} {
		if got := tc.state.Healthy(); got != tc.want {
			t.Errorf("%q.Healthy() = %v, want %v", tc.state, got, tc.want)
		}
	}
}

func TestCounters(t *testing.T) {
	rs := edit(func(rs *ruleset.Ruleset) {
		web := rs.Chains[1]
		web.Rules[0].Packets, web.Rules[0].Bytes = 3, 180
		web.Rules[0].Origin = ruleset.Origin{ID: "web/r1", Policy: "web", What: "rule", File: "p.yaml", Line: 7, Col: 9, Text: "deny: {to: [lan]}"}
		// A second kernel rule of the same line (as for IPv6) adds up.
		v6 := *web.Rules[0]
		v6.Packets, v6.Bytes = 1, 80
		// A default that rejects TCP with a reset and the rest with ICMP.
		rej := &ruleset.Rule{Verdict: ruleset.Verdict{Kind: ruleset.RejectTCPRST}, Origin: ruleset.Origin{ID: "web/default", Policy: "web", What: "default"}, Packets: 2, Bytes: 120}
		adm := &ruleset.Rule{Verdict: ruleset.Verdict{Kind: ruleset.RejectAdmin}, Origin: rej.Origin, Packets: 1, Bytes: 60}
		web.Rules[1].Packets, web.Rules[1].Bytes = 10, 1000
		web.Rules = []*ruleset.Rule{web.Rules[0], &v6, rej, adm, web.Rules[1]}
		rs.Chains[0].Rules[0].Packets = 17
		rs.Chains[0].Rules[0].Origin.Policy = "web" // dispatch rules name their target; output is still no policy's chain
	})
	got := Counters(rs)
	want := []ChainCounters{
		{Chain: "output", Rules: []RuleCounters{{ID: "dispatch/users", Verdict: "vmap users", Count: Count{Packets: 17}}}},
		{Chain: "p_web", Policy: "web", Allowed: Count{10, 1000}, Denied: Count{7, 440}, Rules: []RuleCounters{
			{ID: "web/r1", Verdict: "drop", Count: Count{4, 260}, Source: "p.yaml:7:9", Text: "deny: {to: [lan]}"},
			{ID: "web/default", Verdict: "reject", Count: Count{3, 180}},
			{ID: "web/default", Verdict: "accept", Count: Count{10, 1000}},
		}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Counters (-want +got):\n%s", diff)
	}
}
