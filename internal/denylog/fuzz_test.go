package denylog

import (
	"testing"
)

// FuzzDecodePacket checks that no input panics, and that a decoded packet is
// self-consistent: addresses of the stated family, ports only for protocols
// that have them.
func FuzzDecodePacket(f *testing.F) {
	f.Add(ip4(protoTCP, "10.0.0.1", "192.0.2.10", 0, 0, ports(40000, 80)))
	f.Add(ip4(protoICMP, "10.0.0.1", "192.0.2.10", 0, 4, []byte{8, 0}))
	f.Add(ip6(ext6HopByHop, "fd00::1", "2001:db8::1", cat(ext(ext6Fragment, 0), frag6(protoUDP, 0), ports(1, 2))))
	f.Add(ip6(ext6AH, "fd00::1", "2001:db8::1", []byte{protoTCP, 255}))
	f.Add([]byte{0x45})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodePacket(b)
		if err != nil {
			return
		}
		want4 := p.Family == "ipv4"
		if p.Src.Addr().Is4() != want4 || p.Dst.Addr().Is4() != want4 {
			t.Fatalf("family %s with addresses %v -> %v", p.Family, p.Src, p.Dst)
		}
		if p.ICMP != nil && (p.Src.Port() != 0 || p.Dst.Port() != 0) {
			t.Fatalf("ICMP with ports: %+v", p)
		}
		_, _, _ = ParsePrefix(string(b))
	})
}
