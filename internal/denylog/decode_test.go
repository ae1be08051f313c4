package denylog

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/leash-dev/leash/internal/ruleset"
)

// ip4 builds an IPv4 header (no options unless opts) followed by l4.
func ip4(proto uint8, src, dst string, fragOff uint16, opts int, l4 []byte) []byte {
	ihl := 20 + opts
	b := make([]byte, ihl)
	b[0] = 0x40 | byte(ihl/4)
	binary.BigEndian.PutUint16(b[2:4], uint16(ihl+len(l4)))
	binary.BigEndian.PutUint16(b[6:8], fragOff)
	b[8], b[9] = 64, proto
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(b[12:16], s[:])
	copy(b[16:20], d[:])
	return append(b, l4...)
}

// ip6 builds an IPv6 header with next header next, followed by rest (which
// holds any extension headers and the transport header).
func ip6(next uint8, src, dst string, rest []byte) []byte {
	b := make([]byte, 40)
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:6], uint16(len(rest)))
	b[6], b[7] = next, 64
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	copy(b[8:24], s[:])
	copy(b[24:40], d[:])
	return append(b, rest...)
}

// ports is the first 8 bytes of a TCP/UDP/SCTP header.
func ports(src, dst uint16) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint16(b[0:2], src)
	binary.BigEndian.PutUint16(b[2:4], dst)
	return b
}

// ext is an IPv6 extension header of 8*(1+lenUnits) bytes with next header next.
func ext(next uint8, lenUnits uint8) []byte {
	b := make([]byte, 8*(int(lenUnits)+1))
	b[0], b[1] = next, lenUnits
	return b
}

func frag6(next uint8, offset uint16) []byte {
	b := make([]byte, 8)
	b[0] = next
	binary.BigEndian.PutUint16(b[2:4], offset<<3)
	return b
}

func cat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestDecodePacket(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		want    Packet
		wantErr bool
	}{
		{
			name: "ipv4 tcp",
			in:   ip4(protoTCP, "10.0.0.1", "192.0.2.10", 0, 0, cat(ports(40000, 80), make([]byte, 12))),
			want: Packet{Family: "ipv4", Proto: protoTCP, Src: ap("10.0.0.1:40000"), Dst: ap("192.0.2.10:80")},
		},
		{
			name: "ipv4 udp with options",
			in:   ip4(protoUDP, "10.0.0.1", "192.0.2.53", 0, 8, ports(5353, 53)),
			want: Packet{Family: "ipv4", Proto: protoUDP, Src: ap("10.0.0.1:5353"), Dst: ap("192.0.2.53:53")},
		},
		{
			name: "ipv4 udplite",
			in:   ip4(protoUDPLite, "10.0.0.1", "192.0.2.1", 0, 0, ports(1, 2)),
			want: Packet{Family: "ipv4", Proto: protoUDPLite, Src: ap("10.0.0.1:1"), Dst: ap("192.0.2.1:2")},
		},
		{
			name: "ipv4 sctp",
			in:   ip4(protoSCTP, "10.0.0.1", "192.0.2.1", 0, 0, cat(ports(3868, 3868), make([]byte, 4))),
			want: Packet{Family: "ipv4", Proto: protoSCTP, Src: ap("10.0.0.1:3868"), Dst: ap("192.0.2.1:3868")},
		},
		{
			name: "ipv4 icmp echo",
			in:   ip4(protoICMP, "10.0.0.1", "198.51.100.7", 0, 0, []byte{8, 0, 0, 0, 0, 1, 0, 1}),
			want: Packet{Family: "ipv4", Proto: protoICMP, Src: ap("10.0.0.1:0"), Dst: ap("198.51.100.7:0"), ICMP: &ICMP{Type: 8}},
		},
		{
			name: "ipv4 gre has no ports",
			in:   ip4(47, "10.0.0.1", "192.0.2.1", 0, 0, make([]byte, 4)),
			want: Packet{Family: "ipv4", Proto: 47, Src: ap("10.0.0.1:0"), Dst: ap("192.0.2.1:0")},
		},
		{
			name: "ipv4 non-first fragment",
			in:   ip4(protoUDP, "10.0.0.1", "192.0.2.1", 185, 0, make([]byte, 8)),
			want: Packet{Family: "ipv4", Proto: protoUDP, Src: ap("10.0.0.1:0"), Dst: ap("192.0.2.1:0"), Note: "fragment without transport header"},
		},
		{
			name: "ipv4 first fragment (MF set) has ports",
			in:   ip4(protoUDP, "10.0.0.1", "192.0.2.1", 0x2000, 0, ports(1, 2)),
			want: Packet{Family: "ipv4", Proto: protoUDP, Src: ap("10.0.0.1:1"), Dst: ap("192.0.2.1:2")},
		},
		{
			name: "ipv4 transport cut short",
			in:   ip4(protoTCP, "10.0.0.1", "192.0.2.1", 0, 0, []byte{1, 2}),
			want: Packet{Family: "ipv4", Proto: protoTCP, Src: ap("10.0.0.1:0"), Dst: ap("192.0.2.1:0"), Note: "truncated tcp header"},
		},
		{
			name: "ipv4 options cut short",
			in:   ip4(protoTCP, "10.0.0.1", "192.0.2.1", 0, 40, nil)[:30],
			want: Packet{Family: "ipv4", Proto: protoTCP, Src: ap("10.0.0.1:0"), Dst: ap("192.0.2.1:0"), Note: "truncated IPv4 options"},
		},
		{
			name:    "ipv4 header cut short",
			in:      ip4(protoTCP, "10.0.0.1", "192.0.2.1", 0, 0, nil)[:19],
			wantErr: true,
		},
		{
			name:    "ipv4 bad ihl",
			in:      append([]byte{0x44}, make([]byte, 30)...),
			wantErr: true,
		},
		{
			name: "ipv6 tcp",
			in:   ip6(protoTCP, "fd00::1", "2001:db8::a", cat(ports(40000, 25), make([]byte, 12))),
			want: Packet{Family: "ipv6", Proto: protoTCP, Src: ap("[fd00::1]:40000"), Dst: ap("[2001:db8::a]:25")},
		},
		{
			name: "ipv6 icmpv6 echo",
			in:   ip6(protoICMPv6, "fd00::1", "2001:db8::1", []byte{128, 0, 0, 0}),
			want: Packet{Family: "ipv6", Proto: protoICMPv6, Src: ap("[fd00::1]:0"), Dst: ap("[2001:db8::1]:0"), ICMP: &ICMP{Type: 128}},
		},
		{
			name: "ipv6 hop-by-hop, dest opts, routing, then udp",
			in: ip6(ext6HopByHop, "fd00::1", "2001:db8::1",
				cat(ext(ext6DestOpts, 0), ext(ext6Routing, 1), ext(protoUDP, 0), ports(1000, 53))),
			want: Packet{Family: "ipv6", Proto: protoUDP, Src: ap("[fd00::1]:1000"), Dst: ap("[2001:db8::1]:53")},
		},
		{
			name: "ipv6 first fragment then udp",
			in:   ip6(ext6Fragment, "fd00::1", "2001:db8::1", cat(frag6(protoUDP, 0), ports(1000, 53))),
			want: Packet{Family: "ipv6", Proto: protoUDP, Src: ap("[fd00::1]:1000"), Dst: ap("[2001:db8::1]:53")},
		},
		{
			name: "ipv6 later fragment",
			in:   ip6(ext6Fragment, "fd00::1", "2001:db8::1", cat(frag6(protoUDP, 100), make([]byte, 8))),
			want: Packet{Family: "ipv6", Proto: ext6Fragment, Src: ap("[fd00::1]:0"), Dst: ap("[2001:db8::1]:0"), Note: "fragment without transport header"},
		},
		{
			name: "ipv6 authentication header then tcp",
			in:   ip6(ext6AH, "fd00::1", "2001:db8::1", cat([]byte{protoTCP, 4}, make([]byte, 22), ports(5, 6))),
			want: Packet{Family: "ipv6", Proto: protoTCP, Src: ap("[fd00::1]:5"), Dst: ap("[2001:db8::1]:6")},
		},
		{
			name: "ipv6 esp",
			in:   ip6(ext6ESP, "fd00::1", "2001:db8::1", make([]byte, 16)),
			want: Packet{Family: "ipv6", Proto: ext6ESP, Src: ap("[fd00::1]:0"), Dst: ap("[2001:db8::1]:0"), Note: "encrypted (ESP)"},
		},
		{
			name: "ipv6 extension header cut short",
			in:   ip6(ext6HopByHop, "fd00::1", "2001:db8::1", ext(protoTCP, 2)[:10]),
			want: Packet{Family: "ipv6", Proto: ext6HopByHop, Src: ap("[fd00::1]:0"), Dst: ap("[2001:db8::1]:0"), Note: "truncated IPv6 extension header"},
		},
		{
			name: "ipv6 too many extension headers",
			in: ip6(ext6DestOpts, "fd00::1", "2001:db8::1",
				cat(ext(ext6DestOpts, 0), ext(ext6DestOpts, 0), ext(ext6DestOpts, 0), ext(ext6DestOpts, 0),
					ext(ext6DestOpts, 0), ext(ext6DestOpts, 0), ext(ext6DestOpts, 0), ext(ext6DestOpts, 0), ext(protoTCP, 0))),
			want: Packet{Family: "ipv6", Proto: ext6DestOpts, Src: ap("[fd00::1]:0"), Dst: ap("[2001:db8::1]:0"), Note: "more than 8 IPv6 extension headers"},
		},
		{
			name:    "ipv6 header cut short",
			in:      ip6(protoTCP, "fd00::1", "2001:db8::1", nil)[:39],
			wantErr: true,
		},
		{
			name:    "not IP",
			in:      []byte{0x00, 1, 2, 3},
			wantErr: true,
		},
		{
			name:    "empty",
			in:      nil,
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodePacket(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("DecodePacket: err = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
				t.Errorf("DecodePacket (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParsePrefix(t *testing.T) {
	tests := []struct {
		name        string
		in          string
		wantRule    string
		wantVerdict string
		wantErr     bool
	}{
		{name: "default reject", in: "leash webmail/default reject", wantRule: "webmail/default", wantVerdict: "reject"},
		{name: "rule drop", in: "leash supporters-no-lan/r1 drop", wantRule: "supporters-no-lan/r1", wantVerdict: "drop"},
		{name: "as the compiler writes it", in: ruleset.LogPrefix("baseline/unowned", ruleset.RejectAdmin), wantRule: "baseline/unowned", wantVerdict: "reject"},
		{name: "other tool", in: "DROPPED: ", wantErr: true},
		{name: "old colon form", in: "leash:webmail/r1 ", wantErr: true},
		{name: "bad verdict", in: "leash webmail/r1 accept", wantErr: true},
		{name: "extra word", in: "leash webmail/r1 drop now", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rule, verdict, err := ParsePrefix(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParsePrefix(%q): err = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if rule != tt.wantRule || verdict != tt.wantVerdict {
				t.Errorf("ParsePrefix(%q) = %q, %q; want %q, %q", tt.in, rule, verdict, tt.wantRule, tt.wantVerdict)
			}
		})
	}
}
