package nft

import (
	"context"
	"testing"

	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
)

// forwardPolicy has every kind of forwarded-traffic subject and a rule
// limited to interfaces (via): MACs, single addresses and prefixes of both
// families (nested across policies), interface names and patterns.
const forwardPolicy = `version: 1
policies:
  - name: kid
    hosts: ["02:00:00:00:00:0a", 10.200.1.10, "fd00:200:1::10"]
    rules:
      - allow: {to: [10.200.2.0/24], ports: [80/tcp]}
    default: reject
  - name: lan
    hosts: [10.200.1.0/24, "fd00:200:1::/64", 10.200.9.0/24]
    interfaces: ["veth*", br-lan, "tap-*"]
    rules:
      - allow: {to: [10.200.3.1], via: [wg0, "tun*"]}
      - deny: {to: [10.200.3.0/24]}
    default: allow
  - name: alice
    hosts: [10.200.9.128/25]
    interfaces: [tap0]
    default: deny
`

func forwardRuleset(t *testing.T) *ruleset.Ruleset {
	t.Helper()
	r, err := policy.Load(context.Background(), "forward.yaml", []byte(forwardPolicy), policy.Env{})
	if err != nil {
		t.Fatal(err)
	}
	rs := compile.Compile(r)
	if err := ruleset.Validate(rs); err != nil {
		t.Fatal(err)
	}
	return rs
}

// TestForwardTextEquivalence: the forward chain, its maps (ether_addr,
// source addresses, ifname names and patterns) and oifname matches encode
// exactly as nft -f loads their text, and decode back.
func TestForwardTextEquivalence(t *testing.T) { checkTextEquivalence(t, forwardRuleset(t)) }

// TestForwardRoundTrip: Apply then Read returns the applied IR.
func TestForwardRoundTrip(t *testing.T) {
	_, c := newNS(t)
	rs := forwardRuleset(t)
	if err := c.Apply(rs); err != nil {
		t.Fatal(err)
	}
	requireReadsBack(t, c, rs, "Read after Apply")
}

// TestForwardFake: the fake kernel holds and reads back the forward maps
// as the real one does (the control plane's tests rely on it).
func TestForwardFake(t *testing.T) {
	f := NewFake()
	rs := forwardRuleset(t)
	if err := f.Apply(rs); err != nil {
		t.Fatal(err)
	}
	requireReadsBack(t, f, rs, "Fake Read after Apply")
}
