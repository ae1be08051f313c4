package cli

import (
	"net/netip"

	"github.com/leash-dev/leash/internal/sockdiag"
	"github.com/leash-dev/leash/internal/sockowner"
)

// outgoing keeps the sockets that are connections this namespace opened:
// TCP in any state but listen, time-wait, close and the handshake states of
// accepted connections; connected UDP and UDP-Lite. A connection whose local
// address and port is served by a listener (TCP listen; for UDP an
// unconnected socket) of the same protocol, on that address or the wildcard
// one, was accepted rather than opened and is left out.
func outgoing(socks []sockowner.Owned) []sockowner.Owned {
	served := servers(socks)
	var out []sockowner.Owned
	for _, s := range socks {
		if isConnection(s.Socket) && !served.serves(s.Socket) {
			out = append(out, s)
		}
	}
	return out
}

// isConnection: a socket with a peer, in a state where it can carry data.
func isConnection(s sockdiag.Socket) bool {
	if !s.Connected() {
		return false
	}
	if s.Proto != sockdiag.TCP {
		return true
	}
	switch s.State {
	case sockdiag.Listen, sockdiag.TimeWait, sockdiag.Close, sockdiag.SynRecv, sockdiag.NewSynRecv:
		return false
	}
	return true
}

// serverKey is a protocol and local port that something serves.
type serverKey struct {
	proto sockdiag.Proto
	port  uint16
}

// serverSet is the local addresses served, by protocol and port.
type serverSet map[serverKey][]netip.Addr

// servers collects TCP listeners and unconnected UDP sockets.
func servers(socks []sockowner.Owned) serverSet {
	set := serverSet{}
	for _, s := range socks {
		listening := s.Proto == sockdiag.TCP && s.State == sockdiag.Listen
		bound := s.Proto != sockdiag.TCP && !s.Connected() && s.Src.Port() != 0
		if listening || bound {
			k := serverKey{s.Proto, s.Src.Port()}
			set[k] = append(set[k], s.Src.Addr().Unmap())
		}
	}
	return set
}

// serves reports whether s's local end is a served address and port. The
// IPv6 wildcard serves IPv4 too (dual stack; a v6only listener is taken
// for one as well), the IPv4 wildcard only IPv4.
func (set serverSet) serves(s sockdiag.Socket) bool {
	local := s.Src.Addr().Unmap()
	for _, a := range set[serverKey{s.Proto, s.Src.Port()}] {
		switch {
		case a == local:
			return true
		case a == netip.IPv6Unspecified():
			return true
		case a == netip.IPv4Unspecified() && local.Is4():
			return true
		}
	}
	return false
}
