package compile_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/eval"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/resolve"
	"github.com/leash-dev/leash/internal/ruleset"
)

const forwardPolicy = `version: 1
policies:
  - name: kid
    hosts: ["02:00:00:00:00:0a", 10.200.1.10]
    rules:
      - allow: {to: [10.200.2.0/24], ports: [80/tcp]}
    default: reject
  - name: lan
    hosts: [10.200.1.0/24, "fd00:200:1::/64"]
    interfaces: ["veth*", br-lan]
    rules:
      - allow: {to: [10.200.3.1], via: [wg0]}
      - deny: {to: [10.200.3.0/24]}
    default: allow
  - name: alice
    users: [1000]
    interfaces: [tap-alice]
    rules:
      - allow: {to: [10.200.2.0/24], via: ["tun*"]}
    default: deny
`

// TestForwardDispatch: forwarded packets reach the policy of their MAC,
// then of their source address (the longest prefix), then of their
// incoming interface; via limits an allow rule to the outgoing interface
// and never shadows a later deny.
func TestForwardDispatch(t *testing.T) {
	r, err := policy.Load(context.Background(), "f.yaml", []byte(forwardPolicy), policy.Env{})
	if err != nil {
		t.Fatal(err)
	}
	rs := compile.Compile(r)
	if err := ruleset.Validate(rs); err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr
	tcp := uint8(ruleset.ProtoTCP)
	for _, tc := range []struct {
		name          string
		saddr         string
		mac, iif, oif string
		daddr         string
		port          uint16
		wantRule      string // the deciding rule's id ("" for the base chain's accept)
		wantAllow     bool
	}{
		{name: "kid by IP, allowed web", saddr: "10.200.1.10", iif: "eth1", oif: "eth0", daddr: "10.200.2.5", port: 80, wantRule: "kid/r1", wantAllow: true},
		{name: "kid by IP, other port", saddr: "10.200.1.10", iif: "eth1", oif: "eth0", daddr: "10.200.2.5", port: 443, wantRule: "kid/default"},
		{name: "kid's MAC with a changed IP", saddr: "10.200.1.77", mac: "02:00:00:00:00:0a", iif: "eth1", oif: "eth0", daddr: "10.200.2.5", port: 443, wantRule: "kid/default"},
		{name: "lan host", saddr: "10.200.1.20", mac: "02:00:00:00:00:14", iif: "eth1", oif: "eth0", daddr: "192.0.2.1", port: 443, wantRule: "lan/default", wantAllow: true},
		{name: "lan host v6", saddr: "fd00:200:1::20", iif: "eth1", oif: "eth0", daddr: "2001:db8::1", port: 443, wantRule: "lan/default", wantAllow: true},
		{name: "lan via wg0", saddr: "10.200.1.20", iif: "eth1", oif: "wg0", daddr: "10.200.3.1", port: 22, wantRule: "lan/r1", wantAllow: true},
		{name: "lan not via wg0: the deny still holds", saddr: "10.200.1.20", iif: "eth1", oif: "eth0", daddr: "10.200.3.1", port: 22, wantRule: "lan/r2"},
		{name: "by interface pattern", saddr: "172.16.0.2", iif: "veth-app", oif: "eth0", daddr: "10.200.3.9", port: 22, wantRule: "lan/r2"},
		{name: "by interface name", saddr: "172.16.0.2", iif: "br-lan", oif: "eth0", daddr: "10.200.3.9", port: 22, wantRule: "lan/r2"},
		{name: "a user's interface gets her policy", saddr: "172.16.9.2", iif: "tap-alice", oif: "tun0", daddr: "10.200.2.9", port: 22, wantRule: "alice/r1", wantAllow: true},
		{name: "her interface, not via tun", saddr: "172.16.9.2", iif: "tap-alice", oif: "eth0", daddr: "10.200.2.9", port: 22, wantRule: "alice/default"},
		{name: "unlisted host", saddr: "192.168.7.7", iif: "eth7", oif: "eth0", daddr: "10.200.3.1", port: 22, wantRule: "forward/unlisted", wantAllow: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkt := eval.ForwardedConnection(a(tc.saddr), tc.mac, tc.iif, tc.oif, a(tc.daddr), tcp, tc.port, 0)
			res, err := eval.Evaluate(rs, pkt)
			if err != nil {
				t.Fatal(err)
			}
			got := struct {
				Rule  string
				Allow bool
			}{Allow: res.Allowed()}
			if res.Rule != nil {
				got.Rule = res.Rule.Origin.ID
			}
			want := struct {
				Rule  string
				Allow bool
			}{tc.wantRule, tc.wantAllow}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("verdict (-want +got):\n%s\npath %v", diff, res.Path)
			}
		})
	}
}

// TestForwardPrecedence: a name inside another policy's pattern and a
// prefix inside another policy's prefix decide for themselves (the map of
// prefixes is split around the longer one), whichever policy comes first.
func TestForwardPrecedence(t *testing.T) {
	const src = `version: 1
policies:
  - name: wide
    hosts: [10.0.0.0/8, "fd00::/8"]
    interfaces: ["tap*"]
    default: deny
  - name: narrow
    hosts: [10.1.0.0/16, "fd00:1::/32"]
    interfaces: [tap-alice]
    default: allow
`
	r, err := policy.Load(context.Background(), "p.yaml", []byte(src), policy.Env{})
	if err != nil {
		t.Fatal(err)
	}
	rs := compile.Compile(r)
	if err := ruleset.Validate(rs); err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr
	dst := a("192.0.2.1")
	for _, tc := range []struct {
		saddr, iif string
		want       string
	}{
		{"10.1.2.3", "eth1", "narrow/default"},
		{"10.2.0.1", "eth1", "wide/default"},
		{"10.255.255.255", "eth1", "wide/default"},
		{"fd00:1::9", "eth1", "narrow/default"},
		{"fd00:2::9", "eth1", "wide/default"},
		{"172.16.0.1", "tap-alice", "narrow/default"},
		{"172.16.0.1", "tap-bob", "wide/default"},
		{"172.16.0.1", "tap-alice2", "wide/default"},
	} {
		d := dst
		if a(tc.saddr).Is6() {
			d = a("2001:db8::1")
		}
		res, err := eval.Evaluate(rs, eval.ForwardedConnection(a(tc.saddr), "", tc.iif, "eth0", d, ruleset.ProtoTCP, 443, 0))
		if err != nil {
			t.Fatal(err)
		}
		if res.Rule == nil || res.Rule.Origin.ID != tc.want {
			t.Errorf("from %s in %s: decided by %v (path %v), want %s", tc.saddr, tc.iif, res.Rule, res.Path, tc.want)
		}
	}
}

// TestForwardHostsFileNames: a name in hosts: is every address the hosts
// file gives it.
func TestForwardHostsFileNames(t *testing.T) {
	const src = `version: 1
policies:
  - name: printer
    hosts: [printer.lan]
    default: deny
`
	env := policy.Env{Resolver: resolve.Static(map[string][]netip.Addr{
		"printer.lan": {netip.MustParseAddr("192.168.1.30"), netip.MustParseAddr("fd00::30")}})}
	r, err := policy.Load(context.Background(), "p.yaml", []byte(src), env)
	if err != nil {
		t.Fatal(err)
	}
	got := []netip.Prefix{}
	got = append(append(got, r.Policies[0].SourceV4...), r.Policies[0].SourceV6...)
	want := []netip.Prefix{netip.MustParsePrefix("192.168.1.30/32"), netip.MustParsePrefix("fd00::30/128")}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("sources (-want +got):\n%s", diff)
	}
}
