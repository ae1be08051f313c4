package sandbox_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leash-dev/leash/internal/sandbox"
)

// BenchmarkForwarded is the forwarded packet rate through the router
// (LAN host -> router with leash -> peer, masqueraded) with 0, 1 and
// 10,000 host subjects: the LAN host's policy is found in a hash of source
// addresses, so the rate must not depend on how many hosts are named
// (flat), and the cost of leash's forward chain itself is the 0 -> 1 step.
// Run it alone, under the kernel lock:
//
//	flock /tmp/leash-kernel.lock go test -run '^$' -bench BenchmarkForwarded -benchtime 2s -count 5 ./internal/sandbox
//
// Report: pps (datagrams received by the peer per second), ratio against
// hosts=0 in the same run.
func BenchmarkForwarded(b *testing.B) {
	for _, n := range []int{0, 1, 10000} {
		b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) { benchForwarded(b, hostsPolicy(n)) })
	}
	b.Run("macs=10000", func(b *testing.B) { benchForwarded(b, macsPolicy(10000)) })
}

// macsPolicy is hostsPolicy by MAC address (the hash map forward_macs).
func macsPolicy(n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\npolicies:\n  - name: lan\n    hosts: [%q]\n    rules:\n      - deny: {ports: [9/udp]}\n    default: allow\n", sandbox.LANMAC)
	b.WriteString("  - name: others\n    hosts: [")
	for i := range n - 1 {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", fmt.Sprintf("02:01:00:00:%02x:%02x", byte(i>>8), byte(i)))
	}
	b.WriteString("]\n    default: deny\n")
	return b.String()
}

// hostsPolicy names n hosts: the LAN host in policy lan (allow everything
// but one port), the others (10.201.x.y) spread over ten policies.
func hostsPolicy(n int) string {
	if n == 0 {
		return "version: 1\npolicies:\n  - {name: nobody, users: [4000000000], default: deny}\n"
	}
	lan := []string{sandbox.LANHostIPv4}
	others := make([][]string, 10)
	for i := range n - 1 {
		a := netip.AddrFrom4([4]byte{10, 201, byte(i >> 8), byte(i)})
		others[i%10] = append(others[i%10], a.String())
	}
	var b strings.Builder
	b.WriteString("version: 1\npolicies:\n")
	fmt.Fprintf(&b, "  - name: lan\n    hosts: [%s]\n    rules:\n      - deny: {ports: [9/udp]}\n    default: allow\n", strings.Join(lan, ", "))
	for i, hs := range others {
		if len(hs) == 0 {
			continue
		}
		fmt.Fprintf(&b, "  - name: p%d\n    hosts: [%s]\n    default: deny\n", i, strings.Join(hs, ", "))
	}
	return b.String()
}

func benchForwarded(b *testing.B, policySrc string) {
	s, err := sandbox.New(context.Background(), sandbox.Config{LAN: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	applyPolicyB(b, s, policySrc)
	dst := netip.MustParseAddrPort("203.0.113.9:5001")
	var recv net.PacketConn
	if err := s.Peer().Do(func() error {
		var err error
		recv, err = net.ListenPacket("udp4", dst.String())
		return err
	}); err != nil {
		b.Fatal(err)
	}
	defer recv.Close()
	var got atomic.Int64
	go func() {
		buf := make([]byte, 64)
		for {
			if _, _, err := recv.ReadFrom(buf); err != nil {
				return
			}
			got.Add(1)
		}
	}()
	var send net.Conn
	if err := s.LAN().Do(func() error {
		var err error
		send, err = net.Dial("udp4", dst.String())
		return err
	}); err != nil {
		b.Fatal(err)
	}
	defer send.Close()
	msg := make([]byte, 16)
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if _, err := send.Write(msg); err != nil {
			b.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond) // the last datagrams in flight
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(got.Load())/elapsed.Seconds(), "pps")
	b.ReportMetric(float64(got.Load())/float64(b.N), "delivered")
}
