package proof_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/leash-dev/leash/internal/eval"
	"github.com/leash-dev/leash/internal/kerneltest"
	"github.com/leash-dev/leash/internal/netns"
	"github.com/leash-dev/leash/internal/policy/policytest"
	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/sandbox"
)

// vxlanPort is the tunnel's UDP port on the peer.
const vxlanPort = 4789

// tunnelInner are the tunnels' inner networks' far addresses: nobody
// answers there, so the kernel keeps asking for their link-layer address
// (ARP, neighbour solicitations), and each question leaves encapsulated.
var tunnelInner = map[string]netip.Addr{"vx4": netip.MustParseAddr("10.201.0.1"), "vx6": netip.MustParseAddr("fd00:201::1")}

// TestUnownedTunnelTraffic: a VXLAN tunnel's packets carrying frames the
// kernel makes itself (ARP requests, neighbour solicitations) have no
// owning socket: the unowned chain judges them as baseline.unowned says,
// by the everyone policy under a lockdown. For each setting the test sends
// a datagram into each tunnel (IPv4 and IPv6 outer headers), sees on the
// peer whether the encapsulated questions arrive, reads which rule the
// kernel counted them on, and checks that `leash check --unowned`
// (eval.Unowned) names that rule and verdict.
func TestUnownedTunnelTraffic(t *testing.T) {
	kerneltest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sb, k := newSandbox(t, ctx)
	peers := sandbox.RemoteAddrs() // the peer's own 10.200.0.1 and fd00:200::1
	inNS(t, sb.Client().Name, "", "ip", "link", "add", "vx4", "type", "vxlan", "id", "4", "remote", peers[0].String(), "dstport", fmt.Sprint(vxlanPort))
	inNS(t, sb.Client().Name, "", "ip", "link", "add", "vx6", "type", "vxlan", "id", "6", "remote", peers[1].String(), "dstport", fmt.Sprint(vxlanPort))
	inNS(t, sb.Client().Name, "", "ip", "addr", "add", "10.201.0.2/24", "dev", "vx4")
	inNS(t, sb.Client().Name, "", "ip", "addr", "add", "fd00:201::2/64", "dev", "vx6", "nodad")
	inNS(t, sb.Client().Name, "", "ip", "link", "set", "vx4", "up")
	inNS(t, sb.Client().Name, "", "ip", "link", "set", "vx6", "up")
	got := listenTunnel(t, sb.Peer())
	local, err := netns.LocalAddrs(sb.Client().Name)
	if err != nil {
		t.Fatal(err)
	}

	tunnelRule := fmt.Sprintf("      - allow: {to: [%s, %q], ports: [%d/udp]}\n", peers[0], peers[1], vxlanPort)
	for _, tc := range []struct {
		name     string
		baseline string // baseline lines
		policies string // the policies after the everyone policy's first rule
		arrives  bool
		id       string // the rule that decides
	}{
		{name: "lockdown without a tunnel rule", policies: "    default: deny\n", id: "server/default"},
		{name: "lockdown that allows the tunnel", policies: tunnelRule + "    default: deny\n", arrives: true, id: "server/r2"},
		{name: "lockdown, unowned: allow", baseline: "  unowned: allow\n", policies: "    default: deny\n", arrives: true, id: "unowned/allow"},
		{name: "lockdown allows the tunnel, unowned: deny", baseline: "  unowned: deny\n", policies: tunnelRule + "    default: deny\n", id: "unowned/deny"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "version: 1\n"
			if tc.baseline != "" {
				src += "baseline:\n" + tc.baseline
			}
			// Everyone may use the tunnels' inner networks: the datagrams
			// that make the kernel ask pass; what is judged is the tunnel.
			src += "policies:\n  - name: server\n    everyone: true\n    rules:\n      - allow: {to: [10.201.0.0/24, \"fd00:201::/64\"]}\n" + tc.policies
			rs := compileFile(t, ctx, "p.yaml", src, policytest.Env(policytest.DefaultIDs))
			if err := k.Apply(rs); err != nil {
				t.Fatal(err)
			}
			for _, dev := range []string{"vx4", "vx6"} {
				outer := peers[0]
				if dev == "vx6" {
					outer = peers[1]
				}
				res, err := eval.Evaluate(rs, eval.Unowned(outer, ruleset.ProtoUDP, vxlanPort, 0, nil, local))
				if err != nil {
					t.Fatal(err)
				}
				id := "(base chain policy)"
				if res.Rule != nil {
					id = res.Rule.Origin.ID
				}
				if id != tc.id || res.Allowed() != tc.arrives {
					t.Errorf("%s: check --unowned --to [%s]:%d/udp: %s by %s, want %s by %s", dev, outer, vxlanPort, res.Verdict.Kind, id, allowWord(tc.arrives), tc.id)
				}
				before := ruleCounter(t, k, tc.id)
				arrived := askThrough(t, sb.Client(), dev, tunnelInner[dev], outer, got)
				if arrived != tc.arrives {
					t.Errorf("%s: encapsulated questions arrived at the peer: %v, want %v", dev, arrived, tc.arrives)
				}
				if after := ruleCounter(t, k, tc.id); after == before {
					t.Errorf("%s: the kernel counted no packet on %s (before %d, after %d)", dev, tc.id, before, after)
				}
			}
		})
	}
}

func allowWord(allow bool) string {
	if allow {
		return "accept"
	}
	return "drop"
}

// tunnelPacket is one encapsulated frame the peer received: the outer
// source address and what the frame carries.
type tunnelPacket struct {
	from netip.Addr
	kind string // "arp", "ns" (a neighbour solicitation), "ipv4" or "other"
}

// listenTunnel receives UDP on the peer's tunnel port and sends what every
// datagram carries on the returned channel, until t ends.
func listenTunnel(t *testing.T, peer *netns.NS) <-chan tunnelPacket {
	t.Helper()
	var pc net.PacketConn
	if err := peer.Do(func() (err error) {
		pc, err = net.ListenPacket("udp", fmt.Sprintf(":%d", vxlanPort))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	out := make(chan tunnelPacket, 64)
	done := make(chan struct{})
	t.Cleanup(func() { pc.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return // closed at the end of t
			}
			select {
			case out <- tunnelPacket{from: from.(*net.UDPAddr).AddrPort().Addr().Unmap(), kind: frameKind(buf[:n])}:
			default: // the test only asks whether one arrived
			}
		}
	}()
	return out
}

// frameKind says what a VXLAN datagram carries: after the 8-byte VXLAN
// header, an Ethernet frame (EtherType at 12), and in IPv6 an ICMPv6
// neighbour solicitation (next header 58 at 6, type 135 after the 40-byte
// header).
func frameKind(b []byte) string {
	const eth = 8 + 14
	if len(b) < eth {
		return "other"
	}
	switch uint16(b[eth-2])<<8 | uint16(b[eth-1]) {
	case 0x0806:
		return "arp"
	case 0x0800:
		return "ipv4"
	case 0x86dd:
		if len(b) > eth+40 && b[eth+6] == 58 && b[eth+40] == 135 {
			return "ns"
		}
	}
	return "other"
}

// drain drops what earlier subtests left in got.
func drain(got <-chan tunnelPacket) {
	for {
		select {
		case <-got:
		default:
			return
		}
	}
}

// await reports whether a packet of kind from outer's family arrives on got
// within two seconds.
func await(got <-chan tunnelPacket, kind string, outer netip.Addr) bool {
	deadline := time.After(2 * time.Second)
	for {
		select {
		case p := <-got:
			if p.kind == kind && p.from.Is4() == outer.Is4() {
				return true
			}
		case <-deadline:
			return false
		}
	}
}

// askThrough makes the kernel ask for inner's link-layer address through
// tunnel dev (ARP in vx4, a neighbour solicitation in vx6): it forgets the
// tunnel's neighbours, so the question leaves at once, and sends a datagram
// to inner from the client. It reports whether the encapsulated question
// reached the peer over outer's family within two seconds.
func askThrough(t *testing.T, client *netns.NS, dev string, inner, outer netip.Addr, got <-chan tunnelPacket) bool {
	t.Helper()
	inNS(t, client.Name, "", "ip", "neigh", "flush", "dev", dev, "nud", "all")
	drain(got)
	if err := client.Do(func() error {
		c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(inner, 9)))
		if err != nil {
			return err
		}
		defer c.Close()
		if _, err := c.Write([]byte("x")); err != nil {
			t.Logf("send to %v: %v", inner, err) // a failed resolution may report itself; the question still left
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	kind := "arp"
	if inner.Is6() {
		kind = "ns"
	}
	return await(got, kind, outer)
}

// TestTunnelKeepsItsSendersOwner: a VXLAN tunnel encapsulates a local
// socket's packet without orphaning it, so the outer packet (to the
// tunnel's endpoint) still has her as its owner and her policy judges it
// too: a restricted user allowed into the tunnel's network also needs the
// endpoint allowed. (Only the frames the kernel makes itself, above, are
// unowned.)
func TestTunnelKeepsItsSendersOwner(t *testing.T) {
	kerneltest.Require(t)
	const uid = 64293 // no account needed: a socket's owner is its creator's fsuid
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sb, k := newSandbox(t, ctx)
	peer := sandbox.RemoteAddrs()[0]
	inNS(t, sb.Client().Name, "", "ip", "link", "add", "vx4", "type", "vxlan", "id", "4", "remote", peer.String(), "dstport", fmt.Sprint(vxlanPort))
	inNS(t, sb.Client().Name, "", "sysctl", "-qw", "net.ipv6.conf.vx4.disable_ipv6=1") // no link-local chatter
	inNS(t, sb.Client().Name, "", "ip", "addr", "add", "10.201.0.2/24", "dev", "vx4")
	inNS(t, sb.Client().Name, "", "ip", "link", "set", "vx4", "up")
	// A known neighbour: her datagram is encapsulated at once, no ARP.
	inNS(t, sb.Client().Name, "", "ip", "neigh", "add", tunnelInner["vx4"].String(), "lladdr", "02:00:00:c9:00:01", "dev", "vx4")
	got := listenTunnel(t, sb.Peer())
	for _, tc := range []struct {
		name     string
		endpoint bool // her policy allows the tunnel's endpoint
		arrives  bool
		id       string // the rule that decides the outer packet
	}{
		{name: "tunnel network only", id: "tunnel/default"},
		{name: "and its endpoint", endpoint: true, arrives: true, id: "tunnel/r2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rules := "      - allow: {to: [10.201.0.0/24]}\n"
			if tc.endpoint {
				rules += fmt.Sprintf("      - allow: {to: [%s], ports: [%d/udp]}\n", peer, vxlanPort)
			}
			src := fmt.Sprintf("version: 1\npolicies:\n  - name: tunnel\n    users: [{uid: %d}]\n    rules:\n%s    default: deny\n", uid, rules)
			rs := compileFile(t, ctx, "p.yaml", src, policytest.Env(policytest.DefaultIDs))
			if err := k.Apply(rs); err != nil {
				t.Fatal(err)
			}
			drain(got)
			before := ruleCounter(t, k, tc.id)
			var sendErr error
			if err := sb.Client().Do(func() error { sendErr = sendAs(uid, nil, netip.AddrPortFrom(tunnelInner["vx4"], 9)); return nil }); err != nil {
				t.Fatal(err)
			}
			if sendErr != nil && tc.arrives {
				t.Fatalf("send into the tunnel: %v", sendErr)
			}
			arrived := await(got, "ipv4", peer)
			if arrived != tc.arrives {
				t.Errorf("encapsulated datagram arrived at the peer: %v, want %v (send: %v)", arrived, tc.arrives, sendErr)
			}
			if after := ruleCounter(t, k, tc.id); after == before {
				t.Errorf("the kernel counted no packet on %s", tc.id)
			}
		})
	}
}
