package sockdiag

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Sizes of the inet_diag structures (include/uapi/linux/inet_diag.h).
const (
	sizeofSockID = 48 // struct inet_diag_sockid
	sizeofReqV2  = 56 // struct inet_diag_req_v2
	sizeofMsg    = 72 // struct inet_diag_msg
)

// Attribute types of an inet_diag_msg answer (enum in inet_diag.h).
const (
	attrMark     = 15 // INET_DIAG_MARK, u32
	attrCgroupID = 21 // INET_DIAG_CGROUP_ID, u64
)

// noCookie is INET_DIAG_NOCOOKIE: an exact lookup that should not check
// the socket cookie must send it in both words.
const noCookie = ^uint32(0)

// sockID is struct inet_diag_sockid. Ports are big-endian on the wire,
// addresses in network order (IPv4 in the first 4 bytes), the interface and
// the cookie in host order.
type sockID struct {
	sport, dport uint16
	src, dst     [16]byte
	ifindex      uint32
	cookie       [2]uint32
}

// request is struct inet_diag_req_v2.
type request struct {
	family Family
	proto  Proto
	ext    uint8 // bitmask of INET_DIAG_* extensions to include
	states States
	id     sockID
}

// marshal encodes r as the kernel expects it.
func (r request) marshal() []byte {
	b := make([]byte, sizeofReqV2)
	b[0], b[1], b[2] = uint8(r.family), uint8(r.proto), r.ext
	binary.NativeEndian.PutUint32(b[4:], uint32(r.states))
	r.id.put(b[8:])
	return b
}

func (id sockID) put(b []byte) {
	binary.BigEndian.PutUint16(b[0:], id.sport)
	binary.BigEndian.PutUint16(b[2:], id.dport)
	copy(b[4:20], id.src[:])
	copy(b[20:36], id.dst[:])
	binary.NativeEndian.PutUint32(b[36:], id.ifindex)
	binary.NativeEndian.PutUint32(b[40:], id.cookie[0])
	binary.NativeEndian.PutUint32(b[44:], id.cookie[1])
}

func getSockID(b []byte) sockID {
	var id sockID
	id.sport = binary.BigEndian.Uint16(b[0:])
	id.dport = binary.BigEndian.Uint16(b[2:])
	copy(id.src[:], b[4:20])
	copy(id.dst[:], b[20:36])
	id.ifindex = binary.NativeEndian.Uint32(b[36:])
	id.cookie[0] = binary.NativeEndian.Uint32(b[40:])
	id.cookie[1] = binary.NativeEndian.Uint32(b[44:])
	return id
}

// dumpMessage asks for every socket of one protocol and family in states.
func dumpMessage(p Proto, f Family, states States) netlink.Message {
	return netlink.Message{
		Header: netlink.Header{Type: unix.SOCK_DIAG_BY_FAMILY, Flags: netlink.Request | netlink.Dump},
		Data:   request{family: f, proto: p, states: states}.marshal(),
	}
}

// exactMessage asks for the one socket with the given local (src) and remote
// (dst) endpoints, in any state, without checking its cookie. The kernel's
// UDP lookup reads the request's src as the remote end and dst as the local
// one (udp_diag.c: "src and dst are swapped for historical reasons"), its
// TCP lookup the other way round; exactMessage hides that difference.
func exactMessage(p Proto, src, dst netip.AddrPort) netlink.Message {
	f := familyOf(src.Addr(), dst.Addr())
	local, remote := src, dst
	if p != TCP {
		local, remote = dst, src
	}
	id := sockID{sport: local.Port(), dport: remote.Port(), cookie: [2]uint32{noCookie, noCookie}}
	id.src, id.dst = wireAddr(f, local.Addr()), wireAddr(f, remote.Addr())
	return netlink.Message{
		Header: netlink.Header{Type: unix.SOCK_DIAG_BY_FAMILY, Flags: netlink.Request},
		Data:   request{family: f, proto: p, states: AllStates, id: id}.marshal(),
	}
}

// familyOf is IPv4 when both addresses are IPv4 (or IPv4-mapped), else IPv6.
// The kernel finds IPv6 sockets that talk IPv4 through an IPv4 lookup too.
func familyOf(a, b netip.Addr) Family {
	if a.Unmap().Is4() && b.Unmap().Is4() {
		return IPv4
	}
	return IPv6
}

// wireAddr is a in the family's wire form: IPv4 in the first 4 bytes, IPv6
// (IPv4 as ::ffff:a.b.c.d) in all 16.
func wireAddr(f Family, a netip.Addr) [16]byte {
	var b [16]byte
	if f == IPv4 {
		v4 := a.Unmap().As4()
		copy(b[:], v4[:])
		return b
	}
	return a.As16()
}

// decodeSocket decodes one inet_diag_msg and its attributes. The protocol
// is not in the message; it is the one the request asked for.
func decodeSocket(p Proto, b []byte) (Socket, error) {
	if len(b) < sizeofMsg {
		return Socket{}, fmt.Errorf("sockdiag: inet_diag_msg of %d bytes, want at least %d", len(b), sizeofMsg)
	}
	s := Socket{Proto: p, Family: Family(b[0]), State: State(b[1])}
	id := getSockID(b[4:])
	s.Src = netip.AddrPortFrom(addrFrom(s.Family, id.src), id.sport)
	s.Dst = netip.AddrPortFrom(addrFrom(s.Family, id.dst), id.dport)
	s.Interface = id.ifindex
	s.Cookie = uint64(id.cookie[0]) | uint64(id.cookie[1])<<32
	s.UID = binary.NativeEndian.Uint32(b[64:])
	s.Inode = uint64(binary.NativeEndian.Uint32(b[68:]))
	if s.Family != IPv4 && s.Family != IPv6 {
		return Socket{}, fmt.Errorf("sockdiag: socket of unknown family %d", s.Family)
	}
	if err := decodeAttrs(&s, b[sizeofMsg:]); err != nil {
		return Socket{}, err
	}
	return s, nil
}

func addrFrom(f Family, b [16]byte) netip.Addr {
	if f == IPv4 {
		return netip.AddrFrom4([4]byte(b[:4]))
	}
	return netip.AddrFrom16(b)
}

// decodeAttrs reads the attributes leash uses and skips the others.
func decodeAttrs(s *Socket, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return fmt.Errorf("sockdiag: attributes: %w", err)
	}
	for ad.Next() {
		switch ad.Type() {
		case attrMark:
			s.Mark = ad.Uint32()
		case attrCgroupID:
			s.CgroupID = ad.Uint64()
		}
	}
	if err := ad.Err(); err != nil {
		return fmt.Errorf("sockdiag: attributes: %w", err)
	}
	return nil
}
