package ruleset

import (
	"fmt"
	"net/netip"
	"strings"
)

// KeyField is one field of a concatenated map key: what the lookup loads
// from the packet, in this order, each field padded to 4 bytes in the
// kernel. The vocabulary is closed:
//
//	Kind           loads               value in KeyValue
//	ipv4_addr      ip daddr [& MASK]   Prefix (full length: the network address at Mask)
//	ipv6_addr      ip6 daddr [& MASK]  Prefix (full length, likewise)
//	inet_proto     meta l4proto        Range (one protocol number)
//	inet_service   th dport            Range (one port)
//	icmp_type      icmp type           Range (one type)
//	icmpv6_type    icmpv6 type         Range (one type)
//
// Mask (address fields only) is a prefix length: the address is masked to
// its first Mask bits before the lookup, so one hash entry stands for a
// whole prefix of that length; 0 means no mask. An address field makes the
// lookup IPv4 or IPv6 only (nft adds `meta nfproto`), an ICMP type field
// needs the protocol fixed by a match of the rule (`meta l4proto icmp`).
// `th dport` reads bytes 2-3 of any transport header, so a key with a port
// field also has an inet_proto field and entries name tcp or udp there.
//
// Forwarded traffic adds (forward.go): an address field with Source loads
// `ip saddr`/`ip6 saddr`; ether_addr (`ether saddr`) and ifname
// (`iifname`) are each the one field of a map, valued by KeyValue.Text.
type KeyField struct {
	Kind   SetKind `json:"kind"`
	Mask   uint8   `json:"mask,omitempty"`
	Source bool    `json:"source,omitempty"` // address fields: the source address
}

// KeyValue is the value of one key field in a map entry: Prefix for an
// address field, Range for the others.
type KeyValue struct {
	Prefix netip.Prefix `json:"prefix,omitzero"`
	Range
	Text string `json:"text,omitempty"` // ether_addr and ifname fields
}

// KeyFields is the map's key as fields: Fields, or the one field Key.
func (m *Map) KeyFields() []KeyField {
	if len(m.Fields) > 0 {
		return m.Fields
	}
	return []KeyField{{Kind: m.Key}}
}

// EntryValues is e's key as one value per KeyFields.
func (m *Map) EntryValues(e MapEntry) []KeyValue {
	if len(m.Fields) > 0 {
		return e.Values
	}
	return []KeyValue{{Range: e.Range}}
}

// IsAddr reports whether k is an address kind.
func (k SetKind) IsAddr() bool { return k == KindIPv4 || k == KindIPv6 }

// fieldText is the key expression of one field, e.g. `ip daddr & 255.255.255.0`.
func fieldText(f KeyField) string {
	switch f.Kind {
	case KindIPv4, KindIPv6:
		text := "ip daddr"
		if f.Kind == KindIPv6 {
			text = "ip6 daddr"
		}
		if f.Source {
			text = strings.Replace(text, "daddr", "saddr", 1)
		}
		if f.Mask > 0 {
			text += " & " + MaskAddr(f.Kind == KindIPv6, f.Mask).String()
		}
		return text
	case KindProto:
		return "meta l4proto"
	case KindPort:
		return "th dport"
	case KindICMP:
		return "icmp type"
	case KindICMPv6:
		return "icmpv6 type"
	case KindUID:
		return "meta skuid"
	case KindGID:
		return "meta skgid"
	case KindEther:
		return "ether saddr"
	case KindIfname:
		return "iifname"
	}
	return fmt.Sprintf("# unknown key field %q", f.Kind)
}

// KeyText is the key expression a lookup of m loads, e.g.
// `ip daddr & 255.255.255.0 . meta l4proto . th dport`.
func KeyText(m *Map) string {
	var parts []string
	for _, f := range m.KeyFields() {
		parts = append(parts, fieldText(f))
	}
	return strings.Join(parts, " . ")
}

// EntryText renders a map entry as nft lists it, without counter values:
// `192.0.2.0 . tcp . 25 : jump p_x.r1`, `192.0.2.0 . tcp . 25 counter
// comment "x/r1" : accept`.
func EntryText(m *Map, e MapEntry) string { return entryText(m, e, false) }

// KeyTypeText is the map's key type: `ipv4_addr . inet_proto . inet_service`.
func KeyTypeText(m *Map) string { return keyTypeText(m) }

// keyTypeText is the map's `type` line: `ipv4_addr . inet_proto . inet_service`.
func keyTypeText(m *Map) string {
	var parts []string
	for _, f := range m.KeyFields() {
		parts = append(parts, string(f.Kind))
	}
	return strings.Join(parts, " . ")
}

// valueText renders one key value as nft prints it.
func valueText(f KeyField, v KeyValue, interval bool) string {
	switch {
	case f.Kind.IsAddr() && interval:
		return v.Prefix.String()
	case f.Kind.IsAddr():
		return v.Prefix.Addr().String()
	case f.Kind == KindProto:
		return ProtoName(uint8(v.Lo))
	case f.Kind == KindEther:
		return v.Text
	case f.Kind == KindIfname:
		return fmt.Sprintf("%q", v.Text)
	}
	return v.Range.String()
}

// entryKeyText renders an entry's key: `192.0.2.0 . tcp . 25`.
func entryKeyText(m *Map, e MapEntry) string {
	fields, values := m.KeyFields(), m.EntryValues(e)
	var parts []string
	for i, f := range fields {
		if i < len(values) {
			parts = append(parts, valueText(f, values[i], m.Interval))
		}
	}
	return strings.Join(parts, " . ")
}

// keyNeeds says what a lookup keyed by fields depends on: the address
// family of an address field (nft checks `meta nfproto` inside the vmap
// statement) and the protocol of an ICMP type field (-1 for none), which
// the rule's matches must establish. See ExplicitMatches.
func keyNeeds(fields []KeyField) (family uint32, icmp int) {
	icmp = -1
	for _, f := range fields {
		switch f.Kind {
		case KindIPv4:
			family = 4
		case KindIPv6:
			family = 6
		case KindICMP:
			icmp = ProtoICMP
		case KindICMPv6:
			icmp = ProtoICMPv6
		}
	}
	return family, icmp
}
