package denylog

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
)

// IP protocol numbers the decoder knows.
const (
	protoICMP    = 1
	protoTCP     = 6
	protoUDP     = 17
	protoDCCP    = 33
	protoICMPv6  = 58
	protoSCTP    = 132
	protoUDPLite = 136
)

// IPv6 extension headers the decoder walks over.
const (
	ext6HopByHop = 0
	ext6Routing  = 43
	ext6Fragment = 44
	ext6ESP      = 50
	ext6AH       = 51
	ext6None     = 59
	ext6DestOpts = 60
)

// maxExtHeaders bounds the IPv6 extension header walk; real packets have a
// handful at most.
const maxExtHeaders = 8

// Packet is what the log needs from a packet's network and transport headers.
type Packet struct {
	Family   string // "ipv4" or "ipv6"
	Proto    uint8  // IP protocol of the transport header (after IPv6 extension headers)
	Src, Dst netip.AddrPort
	ICMP     *ICMP
	// Note is set when the transport header could not be read: a non-first
	// fragment, truncated headers, ESP, or too many extension headers.
	Note string
}

// ProtoName is the protocol's usual lower-case name, or its number.
func ProtoName(p uint8) string {
	switch p {
	case protoICMP:
		return "icmp"
	case protoTCP:
		return "tcp"
	case protoUDP:
		return "udp"
	case protoDCCP:
		return "dccp"
	case protoICMPv6:
		return "icmpv6"
	case protoSCTP:
		return "sctp"
	case protoUDPLite:
		return "udplite"
	}
	return strconv.Itoa(int(p))
}

// DecodePacket reads b, a packet from its network header on (as NFLOG copies
// it, possibly cut short). It fails only when not even the IP addresses can
// be read; a missing transport header leaves ports zero and says why in Note.
func DecodePacket(b []byte) (Packet, error) {
	if len(b) == 0 {
		return Packet{}, fmt.Errorf("decode packet: empty")
	}
	switch b[0] >> 4 {
	case 4:
		return decode4(b)
	case 6:
		return decode6(b)
	}
	return Packet{}, fmt.Errorf("decode packet: IP version %d", b[0]>>4)
}

// decode4 reads an IPv4 header and its transport header.
func decode4(b []byte) (Packet, error) {
	if len(b) < 20 {
		return Packet{}, fmt.Errorf("decode IPv4 packet: %d bytes, header needs 20", len(b))
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < 20 {
		return Packet{}, fmt.Errorf("decode IPv4 packet: header length %d", ihl)
	}
	src, _ := netip.AddrFromSlice(b[12:16])
	dst, _ := netip.AddrFromSlice(b[16:20])
	p := Packet{Family: "ipv4", Proto: b[9], Src: netip.AddrPortFrom(src, 0), Dst: netip.AddrPortFrom(dst, 0)}
	if binary.BigEndian.Uint16(b[6:8])&0x1fff != 0 {
		p.Note = "fragment without transport header"
		return p, nil
	}
	if len(b) < ihl {
		p.Note = "truncated IPv4 options"
		return p, nil
	}
	transport(&p, b[ihl:])
	return p, nil
}

// decode6 reads an IPv6 header, walks its extension headers (at most
// maxExtHeaders) and reads the transport header.
func decode6(b []byte) (Packet, error) {
	if len(b) < 40 {
		return Packet{}, fmt.Errorf("decode IPv6 packet: %d bytes, header needs 40", len(b))
	}
	src, _ := netip.AddrFromSlice(b[8:24])
	dst, _ := netip.AddrFromSlice(b[24:40])
	p := Packet{Family: "ipv6", Src: netip.AddrPortFrom(src, 0), Dst: netip.AddrPortFrom(dst, 0)}
	next, rest := b[6], b[40:]
	for range maxExtHeaders {
		n, r, note := skipExt6(next, rest)
		if note != "" {
			p.Proto, p.Note = next, note
			return p, nil
		}
		if r == nil {
			p.Proto = next
			transport(&p, rest)
			return p, nil
		}
		next, rest = n, r
	}
	p.Proto, p.Note = next, fmt.Sprintf("more than %d IPv6 extension headers", maxExtHeaders)
	return p, nil
}

// skipExt6 steps over one extension header of type h at the start of b. It
// returns the next header and the bytes after it, a nil rest when h is not an
// extension header (the transport starts at b), or a note when the walk must
// stop.
func skipExt6(h uint8, b []byte) (next uint8, rest []byte, note string) {
	var size int
	switch h {
	case ext6HopByHop, ext6Routing, ext6DestOpts:
		if len(b) < 2 {
			return 0, nil, "truncated IPv6 extension header"
		}
		size = (int(b[1]) + 1) * 8
	case ext6Fragment:
		if len(b) < 8 {
			return 0, nil, "truncated IPv6 fragment header"
		}
		if binary.BigEndian.Uint16(b[2:4])&0xfff8 != 0 {
			return 0, nil, "fragment without transport header"
		}
		size = 8
	case ext6AH:
		if len(b) < 2 {
			return 0, nil, "truncated IPv6 authentication header"
		}
		size = (int(b[1]) + 2) * 4
	case ext6ESP:
		return 0, nil, "encrypted (ESP)"
	case ext6None:
		return 0, nil, "no next header"
	default:
		return 0, nil, ""
	}
	if len(b) < size {
		return 0, nil, "truncated IPv6 extension header"
	}
	return b[0], b[size:], ""
}

// transport reads the ports (or ICMP type and code) of p.Proto from b.
func transport(p *Packet, b []byte) {
	switch p.Proto {
	case protoTCP, protoUDP, protoUDPLite, protoSCTP, protoDCCP:
		if len(b) < 4 {
			p.Note = "truncated " + ProtoName(p.Proto) + " header"
			return
		}
		p.Src = netip.AddrPortFrom(p.Src.Addr(), binary.BigEndian.Uint16(b[0:2]))
		p.Dst = netip.AddrPortFrom(p.Dst.Addr(), binary.BigEndian.Uint16(b[2:4]))
	case protoICMP, protoICMPv6:
		if (p.Proto == protoICMP) != (p.Family == "ipv4") {
			return // ICMP in IPv6 or ICMPv6 in IPv4: not ours to interpret
		}
		if len(b) < 2 {
			p.Note = "truncated " + ProtoName(p.Proto) + " header"
			return
		}
		p.ICMP = &ICMP{Type: b[0], Code: b[1]}
	}
}
