package sockdiag

import (
	"fmt"
	"net/netip"
)

// Proto is the IP protocol of a socket (its number, e.g. 6 for TCP).
type Proto uint8

// The protocols whose sockets the kernel's inet_diag lists.
const (
	TCP     Proto = 6   // IPPROTO_TCP
	UDP     Proto = 17  // IPPROTO_UDP
	UDPLite Proto = 136 // IPPROTO_UDPLITE; kernels without UDP-Lite list none
)

// String is the protocol's lower-case name ("tcp", "udp", "udplite").
func (p Proto) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	case UDPLite:
		return "udplite"
	}
	return fmt.Sprintf("proto-%d", uint8(p))
}

// State is a socket state as the kernel numbers it (include/net/tcp_states.h).
type State uint8

// The socket states. UDP sockets use only Established (connected) and Close.
const (
	Established   State = 1
	SynSent       State = 2
	SynRecv       State = 3
	FinWait1      State = 4
	FinWait2      State = 5
	TimeWait      State = 6
	Close         State = 7
	CloseWait     State = 8
	LastAck       State = 9
	Listen        State = 10
	Closing       State = 11
	NewSynRecv    State = 12
	BoundInactive State = 13
)

var stateNames = [...]string{
	Established: "established", SynSent: "syn-sent", SynRecv: "syn-recv",
	FinWait1: "fin-wait-1", FinWait2: "fin-wait-2", TimeWait: "time-wait",
	Close: "close", CloseWait: "close-wait", LastAck: "last-ack", Listen: "listen",
	Closing: "closing", NewSynRecv: "new-syn-recv", BoundInactive: "bound-inactive",
}

// String is the state's name as ss(8) prints it ("established", "syn-sent").
func (s State) String() string {
	if int(s) < len(stateNames) && stateNames[s] != "" {
		return stateNames[s]
	}
	return fmt.Sprintf("state-%d", uint8(s))
}

// States is a set of States: bit 1<<state, the kernel's idiag_states mask.
// The zero value means every state.
type States uint32

// AllStates selects sockets in any state.
const AllStates States = ^States(0)

// StatesOf is the set holding ss.
func StatesOf(ss ...State) States {
	var m States
	for _, s := range ss {
		m |= 1 << s
	}
	return m
}

// Has reports whether s is in the set (every state is in the zero set).
func (m States) Has(s State) bool { return m == 0 || m&(1<<s) != 0 }

// Family is a socket's address family.
type Family uint8

// The address families inet_diag lists.
const (
	IPv4 Family = 2  // AF_INET
	IPv6 Family = 10 // AF_INET6
)

// String is "ipv4" or "ipv6".
func (f Family) String() string {
	switch f {
	case IPv4:
		return "ipv4"
	case IPv6:
		return "ipv6"
	}
	return fmt.Sprintf("family-%d", uint8(f))
}

// Socket is one socket as the kernel reports it.
type Socket struct {
	Proto Proto
	// Family is the socket's own family: an IPv6 socket talking IPv4 is IPv6,
	// with IPv4-mapped addresses (::ffff:a.b.c.d) in Src and Dst.
	Family Family
	// Src is the local address and port, Dst the remote one; Dst is the
	// unspecified address with port 0 when the socket is not connected.
	Src, Dst netip.AddrPort
	State    State
	// UID owns the socket (the creator's fsuid; meta skuid in nftables).
	UID uint32
	// Inode is the socket file's inode ("socket:[INODE]" in /proc/PID/fd),
	// 0 when the socket has no file (time-wait, orphaned after close).
	Inode uint64
	// Cookie is the kernel's unique id of the socket.
	Cookie uint64
	// Interface is the index of the device the socket is bound to, or 0.
	Interface uint32
	// CgroupID is the cgroup v2 id the socket was created in (0 when the
	// kernel does not report it).
	CgroupID uint64
	// Mark is the socket's SO_MARK (reported to privileged callers only).
	Mark uint32
}

// Connected reports whether the socket has a remote peer (Dst port set).
func (s Socket) Connected() bool { return s.Dst.Port() != 0 }

// Filter selects the sockets List returns.
type Filter struct {
	// Protos to list; nil means TCP and UDP.
	Protos []Proto
	// Families to list; nil means IPv4 and IPv6.
	Families []Family
	// States to list; the zero value means every state.
	States States
}

func (f Filter) protos() []Proto {
	if len(f.Protos) == 0 {
		return []Proto{TCP, UDP}
	}
	return f.Protos
}

func (f Filter) families() []Family {
	if len(f.Families) == 0 {
		return []Family{IPv4, IPv6}
	}
	return f.Families
}

func (f Filter) states() States {
	if f.States == 0 {
		return AllStates
	}
	return f.States
}
