package compile

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/leash-dev/leash/internal/eval"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/policy/policytest"
	"github.com/leash-dev/leash/internal/ruleset"
)

// TestDNSExemption: with DNS servers known, leash's marked DNS packets to
// them pass before any policy rule; the same packets unmarked, or marked
// to another address or port, are judged by the policy (here: everyone,
// root included, is denied all but 10.0.0.53).
func TestDNSExemption(t *testing.T) {
	const src = `version: 1
policies:
  - name: lockdown
    everyone: true
    rules:
      - allow: {to: [10.0.0.53], ports: [53/udp]}
    default: reject
`
	r, err := policy.Load(context.Background(), "lockdown.yaml", []byte(src), policytest.Env(policytest.DefaultIDs))
	if err != nil {
		t.Fatal(err)
	}
	r.DNSServers = []netip.AddrPort{netip.MustParseAddrPort("10.200.0.1:53"), netip.MustParseAddrPort("[fd00:200::1]:53")}
	rs := Compile(r)
	if err := ruleset.Validate(rs); err != nil {
		t.Fatal(err)
	}
	text := ruleset.Text(rs, ruleset.TextOptions{})
	if !strings.Contains(text, "meta mark 0x6c656173 counter jump dns_exempt") {
		t.Errorf("no exemption in the base chain:\n%s", text)
	}
	if out := rs.Chain(ChainOutput); out.Rules[0].Verdict.Chain != ChainDNSExempt {
		t.Errorf("the exemption is not the base chain's first rule: %+v", out.Rules[0])
	}
	for _, tc := range []struct {
		name  string
		mark  uint32
		addr  string
		proto uint8
		port  uint16
		allow bool
	}{
		{name: "marked udp to the server", mark: DNSMark, addr: "10.200.0.1", proto: ruleset.ProtoUDP, port: 53, allow: true},
		{name: "marked tcp to the v6 server", mark: DNSMark, addr: "fd00:200::1", proto: ruleset.ProtoTCP, port: 53, allow: true},
		{name: "unmarked to the server", addr: "10.200.0.1", proto: ruleset.ProtoUDP, port: 53},
		{name: "other mark", mark: 1, addr: "10.200.0.1", proto: ruleset.ProtoUDP, port: 53},
		{name: "marked to another address", mark: DNSMark, addr: "203.0.113.9", proto: ruleset.ProtoUDP, port: 53},
		{name: "marked to another port", mark: DNSMark, addr: "10.200.0.1", proto: ruleset.ProtoTCP, port: 22},
		{name: "the policy's own allow", addr: "10.0.0.53", proto: ruleset.ProtoUDP, port: 53, allow: true},
	} {
		res, err := eval.Evaluate(rs, eval.Packet{Owned: true, UID: 0, GID: 0, Mark: tc.mark,
			Daddr: netip.MustParseAddr(tc.addr), Proto: tc.proto, Dport: tc.port})
		if err != nil {
			t.Fatal(err)
		}
		if res.Allowed() != tc.allow {
			t.Errorf("%s: allowed %v, want %v (%+v)", tc.name, res.Allowed(), tc.allow, res.Rule)
		}
	}
}
