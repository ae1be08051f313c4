package sandbox_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/denylog"
	"github.com/leash-dev/leash/internal/eval"
	"github.com/leash-dev/leash/internal/kerneltest"
	"github.com/leash-dev/leash/internal/nft"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/sandbox"
	"github.com/leash-dev/leash/internal/sandbox/sandboxtest"
)

// newLANSandbox is a sandbox with a LAN host behind the client (the router).
func newLANSandbox(t *testing.T) *sandbox.Sandbox {
	t.Helper()
	kerneltest.Require(t)
	s, err := sandbox.New(context.Background(), sandbox.Config{
		ProbeCommand: sandboxtest.ProbeBinary(t), Logger: testLogger(t), LAN: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// applyPolicy compiles src and loads it into the router (the client).
func applyPolicy(t *testing.T, s *sandbox.Sandbox, src string) *ruleset.Ruleset {
	t.Helper()
	return applyPolicyB(t, s, src)
}

// applyPolicyB is applyPolicy for tests and benchmarks.
func applyPolicyB(t testing.TB, s *sandbox.Sandbox, src string) *ruleset.Ruleset {
	t.Helper()
	r, err := policy.Load(context.Background(), "router.yaml", []byte(src), policy.Env{})
	if err != nil {
		t.Fatal(err)
	}
	rs := compile.Compile(r)
	c, err := nft.Open(nft.WithNetNS(s.Client().Fd()))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Apply(rs); err != nil {
		t.Fatal(err)
	}
	return rs
}

// lanFlow is one connection the LAN host opens through the router.
type lanFlow struct {
	name  string
	proto string
	addr  string
	port  uint16
	allow bool
}

// expectLAN probes every flow from the LAN host and compares the kernel's
// verdict with the expectation and with eval's explanation for the same
// forwarded packet (from saddr with the LAN host's MAC, in on lan0, out on
// leash0).
func expectLAN(t *testing.T, s *sandbox.Sandbox, rs *ruleset.Ruleset, saddr4 netip.Addr, flows []lanFlow) {
	t.Helper()
	for _, f := range flows {
		timeout := deniedTimeout
		if f.allow {
			timeout = 0
		}
		dst := netip.MustParseAddr(f.addr)
		out, err := s.Probe(context.Background(), sandbox.Probe{From: sandbox.FromLAN, Proto: f.proto, Addr: dst, Port: f.port, Timeout: timeout})
		if err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		t.Logf("%-28s from the LAN: %v", f.name, out)
		if out.Allowed() != f.allow {
			t.Errorf("%s: kernel %v, want allowed=%v", f.name, out, f.allow)
		}
		src := saddr4
		if dst.Is6() {
			src = sandbox.LANHost6()
		}
		proto := map[string]uint8{sandbox.TCP: ruleset.ProtoTCP, sandbox.UDP: ruleset.ProtoUDP}[f.proto]
		res, err := eval.Evaluate(rs, eval.ForwardedConnection(src, sandbox.LANMAC, "lan0", "leash0", dst, proto, f.port, 0))
		if err != nil {
			t.Fatal(err)
		}
		if res.Allowed() != f.allow {
			t.Errorf("%s: eval says allowed=%v (%v), the kernel %v", f.name, res.Allowed(), res.Path, out)
		}
	}
}

// TestRouterByMAC: a LAN host named by its MAC address gets its policy's
// allow and default on the router's forward hook, over IPv4 and IPv6 and
// through the masquerade; with a changed IP it is still the same host.
func TestRouterByMAC(t *testing.T) {
	s := newLANSandbox(t)
	rs := applyPolicy(t, s, `version: 1
policies:
  - name: pc
    hosts: ["`+sandbox.LANMAC+`"]
    rules:
      - allow: {to: [203.0.113.9, "2001:db8::1"], ports: [443/tcp, 53/udp]}
    default: reject
`)
	flows := []lanFlow{
		{"tcp4 allowed", sandbox.TCP, "203.0.113.9", 443, true},
		{"udp4 allowed", sandbox.UDP, "203.0.113.9", 53, true},
		{"tcp4 other port", sandbox.TCP, "203.0.113.9", 80, false},
		{"tcp4 other host", sandbox.TCP, "198.51.100.7", 443, false},
		{"tcp6 allowed", sandbox.TCP, "2001:db8::1", 443, true},
		{"udp6 other port", sandbox.UDP, "2001:db8::1", 5353, false},
	}
	expectLAN(t, s, rs, sandbox.LANHost4(), flows)

	// The host changes its IPv4 address: its MAC still names it.
	l := s.LAN().Name
	for _, args := range [][]string{
		{"-n", l, "addr", "del", sandbox.LANHostIPv4 + "/24", "dev", "lan0"},
		{"-n", l, "addr", "add", "10.200.1.3/24", "dev", "lan0"},
		{"-n", l, "route", "replace", "default", "via", sandbox.LANRouterIPv4},
	} {
		if _, err := sandbox.ExecRunner(context.Background(), "ip", args...); err != nil {
			t.Fatal(err)
		}
	}
	expectLAN(t, s, rs, netip.MustParseAddr("10.200.1.3"), flows[:4])
}

// TestRouterByIP: the same host named by its addresses; once it changes
// its IPv4 address, it is no longer the policy's (and, with no policy
// naming it, not restricted): why a MAC is the stronger name.
func TestRouterByIP(t *testing.T) {
	s := newLANSandbox(t)
	rs := applyPolicy(t, s, `version: 1
policies:
  - name: pc
    hosts: [`+sandbox.LANHostIPv4+`, "`+sandbox.LANHostIPv6+`"]
    rules:
      - allow: {to: [203.0.113.9], ports: [443/tcp]}
    default: deny
  - name: lan
    hosts: [10.200.1.0/24]
    rules:
      - deny: {to: [203.0.113.0/24]}
    default: allow
`)
	expectLAN(t, s, rs, sandbox.LANHost4(), []lanFlow{
		{"tcp4 allowed", sandbox.TCP, "203.0.113.9", 443, true},
		{"tcp4 denied", sandbox.TCP, "203.0.113.9", 80, false},
		{"udp4 denied", sandbox.UDP, "198.51.100.7", 53, false},
		{"tcp6 denied", sandbox.TCP, "2001:db8::1", 443, false},
	})
	l := s.LAN().Name
	for _, args := range [][]string{
		{"-n", l, "addr", "del", sandbox.LANHostIPv4 + "/24", "dev", "lan0"},
		{"-n", l, "addr", "add", "10.200.1.3/24", "dev", "lan0"},
		{"-n", l, "route", "replace", "default", "via", sandbox.LANRouterIPv4},
	} {
		if _, err := sandbox.ExecRunner(context.Background(), "ip", args...); err != nil {
			t.Fatal(err)
		}
	}
	// Now the LAN's policy (the /24) judges it: its deny, then its allow.
	expectLAN(t, s, rs, netip.MustParseAddr("10.200.1.3"), []lanFlow{
		{"tcp4 the LAN's deny", sandbox.TCP, "203.0.113.9", 443, false},
		{"udp4 the LAN's allow", sandbox.UDP, "198.51.100.7", 53, true},
	})
}

// TestRouterInterfaceAndVia: an application namespace behind a veth is
// named by its interface and may reach only its API and DNS; via limits
// an allow rule to the interface the packet leaves through.
func TestRouterInterfaceAndVia(t *testing.T) {
	s := newLANSandbox(t)
	rs := applyPolicy(t, s, `version: 1
policies:
  - name: app
    interfaces: ["lan*"]
    rules:
      - allow: {to: [203.0.113.9], ports: [443/tcp]}
      - allow: {to: [198.51.100.7], ports: [53/udp, 53/tcp]}
      - allow: {to: [192.0.2.10], ports: [443/tcp], via: [wg0]}
      - allow: {to: [192.0.2.20], ports: [443/tcp], via: ["leash*"]}
    default: reject
`)
	if !strings.Contains(ruleset.Text(rs, ruleset.TextOptions{}), `oifname "wg0"`) {
		t.Fatal("no oifname match compiled")
	}
	expectLAN(t, s, rs, sandbox.LANHost4(), []lanFlow{
		{"the API", sandbox.TCP, "203.0.113.9", 443, true},
		{"DNS over UDP", sandbox.UDP, "198.51.100.7", 53, true},
		{"DNS over TCP", sandbox.TCP, "198.51.100.7", 53, true},
		{"elsewhere", sandbox.TCP, "203.0.113.10", 443, false},
		{"via wg0 (not the way out)", sandbox.TCP, "192.0.2.10", 443, false},
		{"via leash* (the way out)", sandbox.TCP, "192.0.2.20", 443, true},
		{"IPv6 elsewhere", sandbox.TCP, "2001:db8::1", 443, false},
	})
}

// probeLAN probes one flow from the LAN host and compares the kernel's
// verdict with allow (no eval: for flows another table decides).
func probeLAN(t *testing.T, s *sandbox.Sandbox, f lanFlow, allow bool) {
	t.Helper()
	out, err := s.Probe(context.Background(), sandbox.Probe{From: sandbox.FromLAN, Proto: f.proto, Addr: netip.MustParseAddr(f.addr), Port: f.port, Timeout: deniedTimeout})
	if err != nil {
		t.Fatalf("%s: %v", f.name, err)
	}
	t.Logf("%-28s from the LAN: %v", f.name, out)
	if out.Allowed() != allow {
		t.Errorf("%s: kernel %v, want allowed=%v", f.name, out, allow)
	}
}

// TestRouterDenialLog: a forwarded denial reaches NFLOG with the host's
// incoming interface and MAC, which `leash log` names it by.
func TestRouterDenialLog(t *testing.T) {
	s := newLANSandbox(t)
	applyPolicy(t, s, `version: 1
policies:
  - name: pc
    hosts: ["`+sandbox.LANMAC+`"]
    default: deny
`)
	r, err := denylog.OpenReader(denylog.ReaderConfig{NetNS: s.Client().Name, Group: denylog.DefaultGroup})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	probeLAN(t, s, lanFlow{"tcp4 denied", sandbox.TCP, "203.0.113.9", 443, false}, false)
	select {
	case m := <-r.Messages():
		if m.InIf != "lan0" || m.MAC != sandbox.LANMAC || m.UID != nil {
			t.Errorf("logged in %q MAC %q uid %v; want lan0, %s, no uid", m.InIf, m.MAC, m.UID, sandbox.LANMAC)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no NFLOG message for the forwarded denial")
	}
}

// TestRouterUserOwnsInterface: a user handed an interface gets her policy
// both for her own sockets on the router and for what comes in on it.
func TestRouterUserOwnsInterface(t *testing.T) {
	s := newLANSandbox(t)
	owner, _ := testUsers(t)
	rs := applyPolicy(t, s, fmt.Sprintf(`version: 1
policies:
  - name: owner
    users: [%d]
    interfaces: [lan0]
    rules:
      - allow: {to: [203.0.113.9], ports: [443/tcp]}
    default: reject
`, owner.uid))
	// Forwarded from her interface.
	expectLAN(t, s, rs, sandbox.LANHost4(), []lanFlow{
		{"from lan0: allowed", sandbox.TCP, "203.0.113.9", 443, true},
		{"from lan0: rejected", sandbox.TCP, "203.0.113.9", 80, false},
	})
	// Her own sockets on the router.
	for _, tc := range []struct {
		tg    target
		allow bool
	}{
		{target{"tcp4 allowed", sandbox.TCP, "203.0.113.9", 443}, true},
		{target{"tcp4 rejected", sandbox.TCP, "203.0.113.9", 80}, false},
	} {
		if out := probe(t, s, owner, tc.tg, deniedTimeout); out.Allowed() != tc.allow {
			t.Errorf("%s as %s: %v, want allowed=%v", tc.tg.name, owner.name, out, tc.allow)
		}
	}
}
