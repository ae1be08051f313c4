package ruleset

import (
	"bytes"
	"fmt"
	"net"
	"slices"
	"strings"
)

// Forwarded traffic (docs/policy.md "Hosts and interfaces"): packets this
// host routes have no socket, so leash judges them by what they carry —
// the source address, the source MAC, the interface they came in on — in a
// base chain on the forward hook, and a rule may be limited to the
// interface a packet leaves through.

// Key kinds of the forward dispatch maps (map key fields only, each the
// one field of its map).
const (
	// KindEther: `ether saddr`, the link-layer source of a packet that
	// came in on an Ethernet device (nft checks `meta iiftype ether`
	// first). KeyValue.Text is the address, lower case (02:00:00:00:00:01).
	KindEther SetKind = "ether_addr"
	// KindIfname: `iifname`, the name of the interface the packet came in
	// on (16 bytes, NUL-padded). KeyValue.Text is a name (`br-lan`), or in
	// an interval map also a pattern (`veth*`: every name that begins with
	// veth).
	KindIfname SetKind = "ifname"
)

// MatchOifname: `oifname "NAME"`, or `oifname "PREFIX*"` for a pattern:
// the packet leaves through that interface (Match.Name). A rule's `via`.
const MatchOifname MatchKind = "oifname"

// IfnameSize is the kernel's IFNAMSIZ: names have at most 15 bytes and a NUL.
const IfnameSize = 16

// IfnamePattern reports whether s is a pattern (ends in `*`) and returns
// the part before the star.
func IfnamePattern(s string) (prefix string, pattern bool) {
	if p, ok := strings.CutSuffix(s, "*"); ok {
		return p, true
	}
	return s, false
}

// ValidIfname checks an interface name or (with patterns) a pattern
// `PREFIX*`: 1 to 15 bytes of printable ASCII without space, '/', ':',
// quotes or '*' (the kernel's dev_valid_name, and nothing nft would have to
// quote); a pattern's prefix is not empty.
func ValidIfname(s string, patterns bool) error {
	name, pattern := IfnamePattern(s)
	switch {
	case pattern && !patterns:
		return fmt.Errorf("interface %q: a pattern is not allowed here", s)
	case name == "" && pattern:
		return fmt.Errorf("interface pattern %q matches every interface: write at least one character before the *", s)
	case name == "":
		return fmt.Errorf("empty interface name")
	case len(name) >= IfnameSize:
		return fmt.Errorf("interface %q: names have at most %d bytes", s, IfnameSize-1)
	case name == "." || name == "..":
		return fmt.Errorf("interface %q is not a valid name", s)
	}
	for _, c := range []byte(name) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`/:"'*\`, c) >= 0 {
			return fmt.Errorf("interface %q: character %q is not allowed in an interface name", s, c)
		}
	}
	return nil
}

// IfnameBounds is the interval of 16-byte `iifname` keys that a name or
// pattern covers, as nft stores it: [name NUL-padded, the same + 1) for a
// name, [prefix NUL-padded, prefix with its last byte + 1) for a pattern.
// s must be valid (ValidIfname).
func IfnameBounds(s string) (lo, hi [IfnameSize]byte) {
	name, pattern := IfnamePattern(s)
	copy(lo[:], name)
	hi = lo
	if pattern {
		hi[len(name)-1]++ // printable ASCII: never overflows
		return lo, hi
	}
	hi[IfnameSize-1]++ // the name is at most 15 bytes: the last one is its NUL
	return lo, hi
}

// IfnameMatches reports whether interface name matches s, a name or a
// pattern, as the kernel compares `iifname`/`oifname`.
func IfnameMatches(s, name string) bool {
	if p, pattern := IfnamePattern(s); pattern {
		return strings.HasPrefix(name, p)
	}
	return s == name
}

// ifnameOverlap reports whether the intervals of two names or patterns overlap.
func ifnameOverlap(a, b string) bool {
	alo, ahi := IfnameBounds(a)
	blo, bhi := IfnameBounds(b)
	return bytes.Compare(alo[:], bhi[:]) < 0 && bytes.Compare(blo[:], ahi[:]) < 0
}

// ValidMAC checks a MAC address as leash stores it: six bytes, lower-case
// hex, colon-separated, a unicast address (a multicast source is never a
// host).
func ValidMAC(s string) error {
	hw, err := net.ParseMAC(s)
	switch {
	case err != nil || len(hw) != 6:
		return fmt.Errorf("%q is not a 6-byte MAC address", s)
	case hw.String() != s:
		return fmt.Errorf("MAC address %q is not in canonical form %s", s, hw)
	case hw[0]&1 != 0:
		return fmt.Errorf("MAC address %s is a multicast address, never a packet's source", s)
	}
	return nil
}

// oifnameText is the nft text of a MatchOifname.
func oifnameText(name string) string { return fmt.Sprintf("oifname %q", name) }

// validateTextField checks the values of a KindEther or KindIfname field:
// valid, and for an interval map (ifname only) disjoint intervals.
func validateTextField(m *Map) error {
	f := m.Fields[0]
	if f.Kind == KindEther && m.Interval {
		return fmt.Errorf("map %s: an ether_addr map holds single addresses, without flags interval", m.Name)
	}
	for i, e := range m.Entries {
		v := e.Values[0]
		var err error
		if f.Kind == KindEther {
			err = ValidMAC(v.Text)
		} else {
			err = ValidIfname(v.Text, m.Interval)
		}
		if err != nil {
			return fmt.Errorf("map %s: entry %d: %w", m.Name, i+1, err)
		}
	}
	if !m.Interval {
		return nil
	}
	names := make([]string, len(m.Entries))
	for i, e := range m.Entries {
		names[i] = e.Values[0].Text
	}
	slices.SortFunc(names, func(a, b string) int {
		alo, _ := IfnameBounds(a)
		blo, _ := IfnameBounds(b)
		return bytes.Compare(alo[:], blo[:])
	})
	for i := 1; i < len(names); i++ {
		if ifnameOverlap(names[i-1], names[i]) {
			return fmt.Errorf("map %s: entries %q and %q overlap", m.Name, names[i-1], names[i])
		}
	}
	return nil
}
