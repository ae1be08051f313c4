package eval

import (
	"net/netip"

	"github.com/leash-dev/leash/internal/ruleset"
)

// lookup is `KEY vmap @m`: the entry holding the packet's key, false when
// the key cannot be loaded or no entry holds it. Every field is
// loaded as the kernel loads it (see ruleset.KeyField): meta skuid/skgid
// need an owning socket, ip daddr an IPv4 packet (ip6 daddr IPv6), th
// dport a TCP or UDP header, icmp type an ICMP one.
func lookup(m *ruleset.Map, pkt Packet) (ruleset.MapEntry, bool) {
	fields := m.KeyFields()
	key := make([]fieldValue, len(fields))
	for i, f := range fields {
		v, ok := load(f, pkt)
		if !ok {
			return ruleset.MapEntry{}, false
		}
		key[i] = v
	}
	for _, e := range m.Entries {
		if entryHolds(fields, m.EntryValues(e), key) {
			return e, true
		}
	}
	return ruleset.MapEntry{}, false
}

// fieldValue is a field loaded from the packet: an address or a number.
type fieldValue struct {
	addr netip.Addr
	num  uint32
	text string // ether_addr, ifname
}

func load(f ruleset.KeyField, pkt Packet) (fieldValue, bool) {
	switch f.Kind {
	case ruleset.KindUID:
		return fieldValue{num: pkt.UID}, pkt.Owned
	case ruleset.KindGID:
		return fieldValue{num: pkt.GID}, pkt.Owned
	case ruleset.KindEther, ruleset.KindIfname:
		return loadText(f, pkt)
	case ruleset.KindIPv4, ruleset.KindIPv6:
		a := pkt.Daddr
		if f.Source {
			a = sourceOf(pkt)
		}
		if a.Is4() != (f.Kind == ruleset.KindIPv4) {
			return fieldValue{}, false
		}
		if f.Mask > 0 {
			a = netip.PrefixFrom(a, int(f.Mask)).Masked().Addr()
		}
		return fieldValue{addr: a}, true
	case ruleset.KindProto:
		return fieldValue{num: uint32(pkt.Proto)}, true
	case ruleset.KindPort:
		return fieldValue{num: uint32(pkt.Dport)}, pkt.Proto == ruleset.ProtoTCP || pkt.Proto == ruleset.ProtoUDP
	case ruleset.KindICMP:
		return fieldValue{num: uint32(pkt.ICMPType)}, pkt.Proto == ruleset.ProtoICMP
	case ruleset.KindICMPv6:
		return fieldValue{num: uint32(pkt.ICMPType)}, pkt.Proto == ruleset.ProtoICMPv6
	}
	return fieldValue{}, false
}

// entryHolds reports whether the entry values hold key: an address in the
// prefix (a single address in a hash map), a number in the range.
func entryHolds(fields []ruleset.KeyField, values []ruleset.KeyValue, key []fieldValue) bool {
	if len(values) != len(key) {
		return false
	}
	for i, f := range fields {
		if f.Kind == ruleset.KindEther || f.Kind == ruleset.KindIfname {
			if !textHolds(f, values[i].Text, key[i].text) {
				return false
			}
			continue
		}
		if f.Kind.IsAddr() {
			if !values[i].Prefix.Contains(key[i].addr) {
				return false
			}
			continue
		}
		if !values[i].Contains(key[i].num) {
			return false
		}
	}
	return true
}
