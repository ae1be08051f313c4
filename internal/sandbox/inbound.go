package sandbox

import (
	"fmt"
	"net/netip"
	"strconv"
	"time"
)

// InboundSourcePort is the port the peer connects from in an inbound
// exchange, so the subject's replies go to a known destination port and
// `leash check` can judge them exactly.
const InboundSourcePort = 40404

// Inbound is a connection made to a subject rather than by it: a process
// with the given credentials listens in the client namespace, on the
// client's own address of Remote's family and Port, and the peer connects
// to it from Remote, port InboundSourcePort, sends a short message and
// waits for it to come back. What is judged is the subject's replies
// (SYN-ACK, data, UDP answer): owned by its socket, in conntrack's reply
// direction, towards Remote:InboundSourcePort. That is how `established`
// and a policy's rules for servers are proved.
type Inbound struct {
	UID, GID uint32
	Groups   []uint32 // supplementary groups; nil means none

	Proto   string     // TCP or UDP
	Port    uint16     // the port the subject serves
	Remote  netip.Addr // where the connection comes from: one of RemoteAddrs
	Timeout time.Duration
}

// RemoteAddrs are the peer addresses inbound connections come from, one
// per family: the peer's own link addresses.
func RemoteAddrs() []netip.Addr { return []netip.Addr{peerAddr4(), peerAddr6()} }

// listenAddr is the client's address of remote's family, where the
// subject's server listens.
func listenAddr(remote netip.Addr) netip.Addr {
	if remote.Is4() {
		return netip.MustParseAddr(clientIPv4)
	}
	return netip.MustParseAddr(clientIPv6)
}

// withDefaults fills Timeout and checks that in describes a possible exchange.
func (in Inbound) withDefaults() (Inbound, error) {
	if in.Timeout == 0 {
		in.Timeout = DefaultProbeTimeout
	}
	if in.Timeout < 0 || in.Timeout > maxProbeTimeout {
		return in, fmt.Errorf("sandbox: inbound timeout %v out of range (0, %v]", in.Timeout, maxProbeTimeout)
	}
	if in.Proto != TCP && in.Proto != UDP {
		return in, fmt.Errorf("sandbox: inbound protocol %q: want tcp or udp", in.Proto)
	}
	if in.Port == 0 {
		return in, fmt.Errorf("sandbox: inbound %s exchange needs a port", in.Proto)
	}
	in.Remote = in.Remote.Unmap()
	if in.Remote != peerAddr4() && in.Remote != peerAddr6() {
		return in, fmt.Errorf("sandbox: inbound connections come from %v or %v, not %v", peerAddr4(), peerAddr6(), in.Remote)
	}
	return in, nil
}

// serveArgs is the serve program's command line after the ProbeCommand
// prefix: serve PROTO ADDR PORT TIMEOUT (see ProbeMain).
func (in Inbound) serveArgs() []string {
	return []string{serveMode, in.Proto, listenAddr(in.Remote).String(), strconv.Itoa(int(in.Port)), in.Timeout.String()}
}

// serveMode is the first argument that makes the probe program serve one
// inbound exchange instead of making a connection attempt.
const serveMode = "serve"

// listening is the first line the serve program prints once its socket is
// bound (and, for TCP, listening), with the credentials it runs with.
type listening struct {
	Listening bool     `json:"listening"`
	UID       uint32   `json:"uid"`
	GID       uint32   `json:"gid"`
	Groups    []uint32 `json:"groups,omitempty"`
}
