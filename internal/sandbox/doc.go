// Package sandbox proves an egress policy against the real kernel, with real
// traffic sent by real processes running as real uids, inside two throwaway
// network namespaces. It is the one harness of both the kernel tests and
// `leash test`.
//
// # Topology
//
//	client  leash-sbx-<pid>-<n>-client         peer  leash-sbx-<pid>-<n>-peer
//	  leash0 10.200.0.2/24  fd00:200::2/64  <-veth->  leash0 10.200.0.1/24  fd00:200::1/64
//	  default via 10.200.0.1 / fd00:200::1            local 0.0.0.0/0 and ::/0 (AnyIP)
//	  policy loaded here, probes run here             DNS on [peer]:53, listeners, echo
//
// The policy under test goes into the client namespace (Sandbox.Client). The
// peer owns every address (a `local 0.0.0.0/0 dev lo` and `local ::/0 dev lo`
// route in its local table, with the link prefixes carved back out), so the
// kernel answers ICMP echo for any destination, and a listener can bind to any
// destination. Nothing is configured in the root namespace; Close removes
// both namespaces (and with them the veth pair) and the temporary directory.
// New removes the leftovers of sandboxes whose process died.
//
// # Answering any port
//
// Just in time: before a TCP or UDP probe, the sandbox binds a listener in the
// peer to exactly the probe's destination address and port, and keeps it until
// Close. TCP listeners accept and hang up; UDP sockets echo. Because the
// socket is bound to the destination itself, replies carry the right source
// without NAT, conntrack or nftables in the peer. The UDP probe's payload is a
// well-formed DNS query, so a probe of the DNS server itself is answered too.
//
// # Probes
//
// Each probe is a new process (Config.ProbeCommand, i.e. `leash sandbox-probe`
// or a test binary, see ProbeMain) started from a thread inside the client
// namespace with the requested uid, gid and supplementary groups. So the
// socket's owner (nft `meta skuid`/`skgid`: the fsuid/fsgid of the task that
// called socket()) is exactly the probe's credentials. The process prints its
// Outcome as JSON, including the credentials it actually had.
//
// Verdicts: Connected (handshake, UDP echo, echo reply); Refused
// (ECONNREFUSED); Blocked (EPERM, EACCES, EHOSTUNREACH, ENETUNREACH,
// EHOSTDOWN, ENETDOWN); Timeout (nothing before Probe.Timeout). Any other
// errno is returned as an error rather than passed off as enforcement.
//
// # Inbound exchanges
//
// Sandbox.Serve proves connections made to a subject: a server process with
// the subject's credentials listens on the client's address, and the peer
// connects in from its link address, port InboundSourcePort, and waits for
// its message to come back. The subject's replies are its own socket's
// packets, in conntrack's reply direction: what `established` decides.
//
// # Observed outcomes
//
// On Linux 6.18, with `meta skuid U <verdict>` in an output chain of the client
// namespace and the probe running as U (uid 0 still connects everywhere):
//
//	verdict                        tcp4               tcp6       udp4, udp6   icmp (v4)    icmpv6
//	(no rule)                      connected          connected  connected    connected    connected
//	drop                           timeout            timeout    EPERM        EPERM        timeout
//	reject with tcp reset          ECONNREFUSED       ECONNREFUSED  (tcp only)
//	reject (icmpx port-unreach.)   ECONNREFUSED       timeout    EPERM        EPERM        ECONNREFUSED
//	reject with icmpx admin-prohib EHOSTUNREACH       timeout    EPERM        EPERM        EACCES
//	reject with icmpx host-unreach EHOSTUNREACH       timeout    EPERM        EPERM        timeout
//	reject with icmpx no-route     ENETUNREACH        timeout    EPERM        EPERM        timeout
//
// ECONNREFUSED is Refused, the other errnos Blocked. Notes:
//   - A dropped SYN does not fail connect(): the kernel retransmits, so a drop
//     is a Timeout for TCP. send() on UDP and IPv4 ping sockets reports the
//     drop at once as EPERM; IPv6 ping sockets ignore it (Timeout).
//   - A reject also drops the packet, so UDP and IPv4 ping see EPERM from
//     send() before the ICMP error arrives.
//   - TCP over IPv6 does not fail connect() on the ICMPv6 error that reject
//     generates locally (only the tcp reset works): Timeout.
//
// So a denial is "not Allowed"; which of Refused, Blocked or Timeout it shows
// depends on the verdict, the protocol and the family as above.
package sandbox
