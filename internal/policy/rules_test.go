package policy

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/leash-dev/leash/internal/ruleset"
)

// TestRuleValues checks how single rules' to and ports resolve.
func TestRuleValues(t *testing.T) {
	r := func(lo, hi uint32) ruleset.Range { return ruleset.Range{Lo: lo, Hi: hi} }
	tests := []struct {
		name   string
		rule   string
		to     *Destinations
		protos []ProtoSpec
	}{
		{
			name: "ipv6 and icmp types inside a flow mapping",
			rule: "allow: {to: [fd00::1, 2001:db8::/32], ports: [icmpv6:echo-request, icmp:0]}",
			to:   &Destinations{V6: pfx("2001:db8::/32", "fd00::1/128")},
			protos: []ProtoSpec{
				{Proto: ruleset.ProtoICMP, Types: []ruleset.Range{r(0, 0)}},
				{Proto: ruleset.ProtoICMPv6, Types: []ruleset.Range{r(128, 128)}},
			},
		},
		{
			name:   "all wins over a type, tcp all wins over a port",
			rule:   "allow: {ports: [icmp, icmp:8, 22/tcp, tcp]}",
			protos: []ProtoSpec{{Proto: ruleset.ProtoICMP}, {Proto: ruleset.ProtoTCP}},
		},
		{name: "any destination", rule: "deny: {to: [10.0.0.0/8, any]}"},
		{name: "empty lists mean everything", rule: "deny: {to: [], ports: []}"},
		{name: "null body", rule: "deny:"},
		{
			name: "mapped address and prefix become ipv4, overlaps merge",
			rule: `allow: {to: ["::ffff:10.1.1.1", "::ffff:10.0.0.0/104", 10.1.0.0/16, intranet.]}`,
			to:   &Destinations{V4: pfx("10.0.0.0/8"), Hosts: []string{"intranet"}},
		},
		{
			name: "adjacent port ranges merge, services expand per protocol",
			rule: "allow: {ports: [1-10/udp, 11-20/udp, 443/tcp, https, domain]}",
			protos: []ProtoSpec{
				{Proto: ruleset.ProtoTCP, Ports: []ruleset.Range{r(53, 53), r(443, 443)}},
				{Proto: ruleset.ProtoUDP, Ports: []ruleset.Range{r(1, 20), r(53, 53), r(443, 443)}},
			},
		},
		{
			name: "numbers as strings",
			rule: `allow: {ports: ["25", 65535]}`,
			protos: []ProtoSpec{
				{Proto: ruleset.ProtoTCP, Ports: []ruleset.Range{r(25, 25), r(65535, 65535)}},
				{Proto: ruleset.ProtoUDP, Ports: []ruleset.Range{r(25, 25), r(65535, 65535)}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "version: 1\npolicies:\n  - name: p\n    users: [1]\n    default: deny\n    rules:\n      - " + tt.rule + "\n"
			res, err := Load(context.Background(), "t.yaml", []byte(src), testEnv())
			if err != nil {
				t.Fatal(err)
			}
			got := res.Policies[0].Rules[0]
			if diff := cmp.Diff(tt.to, got.To, netipOpts()); diff != "" {
				t.Errorf("To (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.protos, got.Protos); diff != "" {
				t.Errorf("Protos (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPolicySettings checks subjects, loopback and established defaults.
func TestPolicySettings(t *testing.T) {
	const src = `version: 1
baseline:
  loopback: rules
  established: deny
  unowned: deny
policies:
  - name: a
    groups: [supporters, ops, 4242]
    default: allow
  - name: b
    users: ["2000-2999", 3000]
    default: deny
    loopback: [ping]
    established: allow
`
	res, err := Load(context.Background(), "t.yaml", []byte(src), testEnv())
	if err != nil {
		t.Fatal(err)
	}
	r := func(lo, hi uint32) ruleset.Range { return ruleset.Range{Lo: lo, Hi: hi} }
	a, b := res.Policies[0], res.Policies[1]
	type summary struct {
		GIDs        []uint32
		UIDs        []ruleset.Range
		Members     []ruleset.Range
		Loopback    LoopbackMode
		LoopProtos  []ProtoSpec
		Established bool
	}
	sum := func(p *ResolvedPolicy) summary {
		return summary{p.GIDs, p.UIDs, p.MemberUIDs, p.Loopback.Mode, p.Loopback.Protos, p.Established}
	}
	tests := []struct {
		name string
		got  summary
		want summary
	}{
		{
			name: "groups expand to primary and supplementary members, inherit baseline",
			got:  sum(a),
			want: summary{GIDs: []uint32{1500, 1600, 4242}, Members: []ruleset.Range{r(1001, 1003)}, Loopback: LoopbackRules},
		},
		{
			name: "uid ranges merge, overrides apply",
			got:  sum(b),
			want: summary{UIDs: []ruleset.Range{r(2000, 3000)}, Loopback: LoopbackPorts, Established: true, LoopProtos: []ProtoSpec{
				{Proto: ruleset.ProtoICMP, Types: []ruleset.Range{r(8, 8)}},
				{Proto: ruleset.ProtoICMPv6, Types: []ruleset.Range{r(128, 128)}},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if res.Baseline.Unowned != UnownedDeny || res.Baseline.Established {
		t.Errorf("baseline = %+v", res.Baseline)
	}
}
