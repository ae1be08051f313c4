package compile

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
)

// flatPolicy builds a one-policy file from rules r1, r2, ... (positions on
// line 10+i) for uid 1000.
func flatPolicy(rules ...*policy.ResolvedRule) *policy.Resolved {
	pos := policy.Pos{File: "f.yaml", Line: 1, Col: 1}
	p := &policy.ResolvedPolicy{Name: "p", Pos: pos, UIDs: []ruleset.Range{{Lo: 1000, Hi: 1000}},
		Default: policy.Deny, DefaultPos: pos, Loopback: policy.Loopback{Mode: policy.LoopbackRules}}
	for i, r := range rules {
		r.Index, r.Pos, r.Text = i+1, policy.Pos{File: "f.yaml", Line: 10 + i, Col: 9}, "rule"
		p.Rules = append(p.Rules, r)
	}
	return &policy.Resolved{File: "f.yaml", Policies: []*policy.ResolvedPolicy{p}, Baseline: policy.Baseline{Unowned: policy.UnownedAllow,
		Log: policy.LogSettings{Group: 7, Rate: 5, Unit: "second", Burst: 9}}}
}

func to(ps ...string) *policy.Destinations {
	d := &policy.Destinations{}
	for _, s := range ps {
		p := netip.MustParsePrefix(s)
		if p.Addr().Is4() {
			d.V4 = append(d.V4, p)
		} else {
			d.V6 = append(d.V6, p)
		}
	}
	return d
}

func tcp(ports ...uint32) []policy.ProtoSpec {
	var rs []ruleset.Range
	for _, p := range ports {
		rs = append(rs, ruleset.Range{Lo: p, Hi: p})
	}
	return []policy.ProtoSpec{{Proto: ruleset.ProtoTCP, Ports: rs}}
}

// TestFlatLayout: the chain p of small rule lists, as nft text.
func TestFlatLayout(t *testing.T) {
	allow := func(d *policy.Destinations, ps []policy.ProtoSpec) *policy.ResolvedRule {
		return &policy.ResolvedRule{Action: policy.Allow, To: d, Protos: ps}
	}
	tests := []struct {
		name  string
		rules []*policy.ResolvedRule
		want  []string // the policy chain's rules, then every other chain's
	}{
		{
			name:  "one rule keeps its own kernel rules",
			rules: []*policy.ResolvedRule{allow(to("10.0.0.1/32", "2001:db8::1/128"), tcp(22))},
			want: []string{
				`ip daddr @p_r1_v4 meta l4proto tcp th dport @p_r1_tcp counter accept comment "p/r1"`,
				`ip6 daddr @p_r1_v6 meta l4proto tcp th dport @p_r1_tcp counter accept comment "p/r1"`,
				`counter drop comment "p/default"`,
			},
		},
		{
			name: "rules of one shape share a lookup, by family",
			rules: []*policy.ResolvedRule{allow(to("10.0.0.1/32", "2001:db8::1/128"), tcp(22)),
				allow(to("10.0.0.2/32", "2001:db8::2/128"), tcp(25, 587))},
			want: []string{
				`counter ip daddr . meta l4proto . th dport vmap @p_m1_v4 comment "p/m1"`,
				`counter ip6 daddr . meta l4proto . th dport vmap @p_m2_v6 comment "p/m2"`,
				`counter drop comment "p/default"`,
				`@p_m1_v4: accept p/r1, accept p/r2`,
				`@p_m2_v6: accept p/r1, accept p/r2`,
			},
		},
		{
			name: "a rule of another shape in between that overlaps splits the lookup",
			rules: []*policy.ResolvedRule{allow(to("10.0.0.0/24"), nil), allow(to("10.1.0.0/24"), nil),
				{Action: policy.Deny, To: to("10.1.0.0/16"), Protos: tcp(22)},
				allow(to("10.1.0.0/24"), nil), allow(to("10.2.0.0/24"), nil), allow(to("10.3.0.0/24"), nil)},
			want: []string{
				`counter ip daddr vmap @p_m1_v4_int comment "p/m1"`,
				`ip daddr @p_r3_v4 meta l4proto tcp th dport @p_r3_tcp counter drop comment "p/r3"`,
				`counter ip daddr vmap @p_m2_v4_int comment "p/m2"`,
				`counter drop comment "p/default"`,
				`@p_m1_v4_int: accept p/r1, accept p/r2`,
				`@p_m2_v4_int: accept p/r5, accept p/r6`,
			},
		},
		{
			name: "a rule of another shape that is disjoint is passed over",
			rules: []*policy.ResolvedRule{allow(to("10.0.0.0/24"), nil),
				{Action: policy.Deny, To: to("10.9.0.0/16"), Protos: tcp(22)},
				allow(to("10.1.0.0/24"), nil)},
			want: []string{
				`counter ip daddr vmap @p_m1_v4_int comment "p/m1"`,
				`ip daddr @p_r2_v4 meta l4proto tcp th dport @p_r2_tcp counter drop comment "p/r2"`,
				`counter drop comment "p/default"`,
				`@p_m1_v4_int: accept p/r1, accept p/r3`,
			},
		},
		{
			name:  "rules of many entries each are counted by a chain each, not per entry",
			rules: []*policy.ResolvedRule{allow(to(slash24s(10, 257)...), nil), allow(to(slash24s(11, 257)...), nil)},
			want: []string{
				`counter ip daddr & 255.255.255.0 vmap @p_m1_v4_24 comment "p/m1"`,
				`counter drop comment "p/default"`,
				`p_p.r1: counter accept comment "p/r1"`,
				`p_p.r2: counter accept comment "p/r2"`,
				`@p_m1_v4_24: jump p_p.r1, jump p_p.r2 (no counters)`,
			},
		},
		{
			name:  "rules of few entries on average keep their verdicts in their entries",
			rules: []*policy.ResolvedRule{allow(to(slash24s(10, 257)...), nil), allow(to("11.0.0.0/24"), nil)},
			want: []string{
				`counter ip daddr & 255.255.255.0 vmap @p_m1_v4_24 comment "p/m1"`,
				`counter drop comment "p/default"`,
				`@p_m1_v4_24: accept p/r1, accept p/r2`,
			},
		},
		{
			name:  "one more host beside rules of many entries: it gets a chain too",
			rules: []*policy.ResolvedRule{allow(to(slash24s(10, 400)...), nil), allow(to(slash24s(11, 400)...), nil), allow(to("12.0.0.0/24"), nil)},
			want: []string{
				`counter ip daddr & 255.255.255.0 vmap @p_m1_v4_24 comment "p/m1"`,
				`counter drop comment "p/default"`,
				`p_p.r1: counter accept comment "p/r1"`,
				`p_p.r2: counter accept comment "p/r2"`,
				`p_p.r3: counter accept comment "p/r3"`,
				`@p_m1_v4_24: jump p_p.r1, jump p_p.r2, jump p_p.r3 (no counters)`,
			},
		},
		{
			name:  "ports without destinations, a logged reject",
			rules: []*policy.ResolvedRule{{Action: policy.Reject, Log: true, Protos: tcp(23)}, allow(nil, tcp(22, 443))},
			want: []string{
				`counter meta l4proto . th dport vmap @p_m1 comment "p/m1"`,
				`counter drop comment "p/default"`,
				`p_p.r1: limit rate 5/second burst 9 packets counter log prefix "leash p/r1 reject" group 7 snaplen 128 comment "p/r1"`,
				`p_p.r1: meta l4proto tcp counter reject with tcp reset comment "p/r1"`,
				`p_p.r1: counter reject with icmpx admin-prohibited comment "p/r1"`,
				`@p_m1: accept p/r2, jump p_p.r1`,
			},
		},
		{
			name: "ICMP types: the protocol is a match, the types a key field",
			rules: []*policy.ResolvedRule{
				allow(to("10.0.0.0/24"), []policy.ProtoSpec{{Proto: ruleset.ProtoICMP, Types: []ruleset.Range{{Lo: 8, Hi: 8}}}}),
				allow(to("10.0.1.0/24"), []policy.ProtoSpec{{Proto: ruleset.ProtoICMP, Types: []ruleset.Range{{Lo: 0, Hi: 0}}}})},
			want: []string{
				`meta l4proto icmp counter ip daddr & 255.255.255.0 . icmp type vmap @p_m1_v4_24 comment "p/m1"`,
				`counter drop comment "p/default"`,
				`@p_m1_v4_24: accept p/r1, accept p/r2`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := Compile(flatPolicy(tt.rules...))
			if err := ruleset.Validate(rs); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ch := range rs.Chains {
				prefix := ch.Name + ": "
				switch {
				case ch.Name == "p_p":
					prefix = ""
				case !strings.HasPrefix(ch.Name, "p_p."):
					continue
				}
				for _, r := range ch.Rules {
					if r.Origin.What == "routing-header" || r.Origin.What == "source-route" {
						continue // every policy chain's preamble (TestRoutingHeaderFirst)
					}
					got = append(got, prefix+ruleset.RuleText(rs, r, false))
				}
			}
			for _, m := range rs.Maps {
				if m.Name == "users" {
					continue
				}
				line := "@" + m.Name + ": " + entryTargets(m)
				if !m.Counters {
					line += " (no counters)"
				}
				got = append(got, line)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("chains (-want +got):\n%s\n%s", diff, ruleset.Text(rs, ruleset.TextOptions{}))
			}
		})
	}
}

// TestFlatEntries: overlaps go to the earliest rule, entries are split
// where a later rule's prefix overlaps an earlier one.
func TestFlatEntries(t *testing.T) {
	rs := Compile(flatPolicy(
		&policy.ResolvedRule{Action: policy.Deny, To: to("10.0.0.128/25")},
		&policy.ResolvedRule{Action: policy.Allow, To: to("10.0.0.0/24")},
		&policy.ResolvedRule{Action: policy.Allow, To: to("10.0.1.0/24", "10.0.0.5/32")},
	))
	var got []string
	for _, m := range rs.Maps {
		if m.Name == "p_m1_v4_int" {
			for _, e := range m.Entries {
				got = append(got, strings.TrimSpace(e.Values[0].Prefix.String()+" "+e.Target()+" "+e.Rule))
			}
		}
	}
	want := []string{"10.0.0.0/25 accept p/r2", "10.0.0.128/25 drop p/r1", "10.0.1.0/24 accept p/r3"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entries (-want +got):\n%s\n%s", diff, ruleset.Text(rs, ruleset.TextOptions{}))
	}
}

// TestDeadRules: rules that earlier rules decide entirely are reported with
// their position and the rules that shadow them; partly shadowed rules,
// and rules judged by a kernel rule of their own, are not.
func TestDeadRules(t *testing.T) {
	tests := []struct {
		name  string
		rules []*policy.ResolvedRule
		want  []string
	}{
		{name: "none", rules: []*policy.ResolvedRule{
			{Action: policy.Allow, To: to("10.0.0.0/24")}, {Action: policy.Deny, To: to("10.0.1.0/24")}}},
		{name: "same destinations twice", rules: []*policy.ResolvedRule{
			{Action: policy.Allow, To: to("10.0.0.0/24")}, {Action: policy.Deny, To: to("10.0.0.0/24")}},
			want: []string{`f.yaml:11:9: warning: rule r2 of policy "p" can never match: rule r1 already decides every connection it matches; remove it, or move it above the rules that shadow it if it should decide first`}},
		{name: "covered by two earlier rules together", rules: []*policy.ResolvedRule{
			{Action: policy.Allow, To: to("10.0.0.0/25")}, {Action: policy.Deny, To: to("10.0.0.128/25")},
			{Action: policy.Allow, To: to("10.0.0.0/24")}},
			want: []string{`f.yaml:12:9: warning: rule r3 of policy "p" can never match: rules r1, r2 already decide every connection it matches; remove it, or move it above the rules that shadow it if it should decide first`}},
		{name: "partly covered: not dead", rules: []*policy.ResolvedRule{
			{Action: policy.Allow, To: to("10.0.0.0/25")}, {Action: policy.Deny, To: to("10.0.0.0/24")}}},
		{name: "ports under a rule for any port of the same host", rules: []*policy.ResolvedRule{
			{Action: policy.Allow, To: to("10.0.0.0/8", "fd00::/8")}, {Action: policy.Deny, To: to("10.1.2.3/32", "fd00::1/128"), Protos: tcp(22)}},
			want: []string{`f.yaml:11:9: warning: rule r2 of policy "p" can never match: rule r1 already decides every connection it matches; remove it, or move it above the rules that shadow it if it should decide first`}},
		{name: "one family still matches", rules: []*policy.ResolvedRule{
			{Action: policy.Allow, To: to("10.0.0.0/8")}, {Action: policy.Deny, To: to("10.1.2.3/32", "fd00::1/128"), Protos: tcp(22)}}},
		{name: "a protocol rule covers the port rule", rules: []*policy.ResolvedRule{
			{Action: policy.Deny, Protos: []policy.ProtoSpec{{Proto: ruleset.ProtoTCP}}}, {Action: policy.Allow, Protos: tcp(443)}},
			want: []string{`f.yaml:11:9: warning: rule r2 of policy "p" can never match: rule r1 already decides every connection it matches; remove it, or move it above the rules that shadow it if it should decide first`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ws := CompileWithWarnings(flatPolicy(tt.rules...))
			var got []string
			for _, w := range ws {
				got = append(got, w.String())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRoutingHeaderFirst: every policy chain starts by dropping IPv6
// packets with a routing header and IPv4 packets with a source route,
// before anything accepts.
func TestRoutingHeaderFirst(t *testing.T) {
	rs := Compile(flatPolicy())
	want := []string{
		`exthdr rt exists counter drop comment "p/routing-header"`,
		`ip option lsrr exists counter drop comment "p/source-route"`,
		`ip option ssrr exists counter drop comment "p/source-route"`,
	}
	for _, ch := range rs.Chains {
		if ch.Name != "p_p" {
			continue
		}
		var got []string
		for _, r := range ch.Rules[:min(len(want), len(ch.Rules))] {
			got = append(got, ruleset.RuleText(rs, r, false))
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("first rules of %s (-want +got):\n%s", ch.Name, diff)
		}
		return
	}
	t.Fatal("no policy chain p_p")
}

// slash24s is n disjoint /24s A.0.0.0/24, A.0.2.0/24, ...
func slash24s(a byte, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{a, byte(2 * i >> 8), byte(2 * i), 0}), 24).String()
	}
	return out
}

// entryTargets lists what m's entries do, each target once, in order:
// `accept p/r1, jump p_p.r2`.
func entryTargets(m *ruleset.Map) string {
	var out []string
	seen := map[string]bool{}
	for _, e := range m.Entries {
		t := strings.TrimSpace(e.Target() + " " + e.Rule)
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return strings.Join(out, ", ")
}
