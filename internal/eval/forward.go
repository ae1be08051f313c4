package eval

import (
	"net/netip"

	"github.com/leash-dev/leash/internal/ruleset"
)

// Forwarded packets (the forward hook): no socket, so the keys are what
// the packet carries. A forwarded packet's source is Saddr; a packet of
// this host's own sockets has its source in Saddr only when the caller
// knows it (the dispatch of output never loads it).

// sourceOf is the packet's source address (invalid when unknown: then no
// source-keyed entry holds it).
func sourceOf(pkt Packet) netip.Addr { return pkt.Saddr }

// loadText loads an ether_addr field (`ether saddr`, only for packets that
// came in on an Ethernet device: EtherSaddr set) or an ifname field
// (`iifname`, "" for packets that came in on no interface: those of this
// host's sockets, whose iifname the kernel cannot load).
func loadText(f ruleset.KeyField, pkt Packet) (fieldValue, bool) {
	if f.Kind == ruleset.KindEther {
		return fieldValue{text: pkt.EtherSaddr}, pkt.EtherSaddr != ""
	}
	return fieldValue{text: pkt.Iifname}, pkt.Iifname != ""
}

// textHolds: a MAC equals the entry's; an interface name equals the
// entry's name or begins with its pattern's prefix (interval maps).
func textHolds(f ruleset.KeyField, entry, key string) bool {
	if f.Kind == ruleset.KindIfname {
		return ruleset.IfnameMatches(entry, key)
	}
	return entry == key
}

// ForwardedConnection is the first packet of a new connection that this
// host forwards: from saddr (and MAC, when known, lower case), coming in
// on iif and leaving through oif, to addr.
func ForwardedConnection(saddr netip.Addr, mac, iif, oif string, addr netip.Addr, proto uint8, port uint16, icmpType uint8) Packet {
	return Packet{Hook: "forward", Saddr: saddr, EtherSaddr: mac, Iifname: iif, Oifname: oif,
		Daddr: addr, Proto: proto, Dport: port, ICMPType: icmpType}
}
