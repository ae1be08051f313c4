package policy

import (
	"fmt"
	"net/netip"
	"strings"

	"go4.org/netipx"
)

// toKind is what a `to` entry is.
type toKind int

const (
	toBad    toKind = iota // none of the below; msg says why
	toAny                  // the word any
	toPrefix               // an address or a CIDR
	toList                 // the name of a destination list
	toHost                 // a hostname to resolve
)

// classify tells what the `to` entry s is. For toPrefix it returns the
// prefix; for toBad an error message.
func (rv *resolver) classify(s string) (kind toKind, prefix netip.Prefix, msg string) {
	switch {
	case s == "any":
		return toAny, netip.Prefix{}, ""
	case strings.Contains(s, "/"):
		return parseCIDR(s)
	case strings.Contains(s, ":") || looksNumeric(s):
		return parseAddr(s)
	case rv.lists[s] != nil:
		return toList, netip.Prefix{}, ""
	}
	if why := hostnameProblem(s); why != "" {
		return toBad, netip.Prefix{}, fmt.Sprintf("%q is not an address, a CIDR, a destination list or a hostname: %s", s, why)
	}
	return toHost, netip.Prefix{}, ""
}

// parseCIDR parses a CIDR entry. IPv4-mapped IPv6 prefixes of /96 or longer
// are turned into the IPv4 prefix they map.
func parseCIDR(s string) (toKind, netip.Prefix, string) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return toBad, p, fmt.Sprintf("%q is not a valid CIDR (%v); write e.g. 10.0.0.0/8 or fd00::/8", s, trimNetipErr(err))
	}
	if p.Masked() != p {
		return toBad, p, fmt.Sprintf("%q has host bits set; write %s for the network, or %s for the one host", s, p.Masked(), p.Addr())
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return toPrefix, p, ""
}

// parseAddr parses a single address as a /32 or /128. IPv4-mapped IPv6
// addresses become the IPv4 address.
func parseAddr(s string) (toKind, netip.Prefix, string) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return toBad, netip.Prefix{}, fmt.Sprintf("%q is not a valid IP address (%v)", s, trimNetipErr(err))
	}
	if a.Zone() != "" {
		return toBad, netip.Prefix{}, fmt.Sprintf("%q has a zone; zoned (link-local %%interface) addresses are not supported, drop the %%%s", s, a.Zone())
	}
	a = a.Unmap()
	return toPrefix, netip.PrefixFrom(a, a.BitLen()), ""
}

// trimNetipErr drops the quoted input that netip repeats in its errors.
func trimNetipErr(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, "): "); i >= 0 {
		return msg[i+3:]
	}
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}

// looksNumeric reports whether s looks like a dotted IPv4 address attempt:
// its last dot-separated label is all digits (no top-level domain is).
func looksNumeric(s string) bool {
	last := s[strings.LastIndexByte(s, '.')+1:]
	return isDigits(last)
}

// hostnameProblem says why s is not a valid hostname, or "" if it is.
// Labels are 1-63 letters, digits, hyphens (not at either end) or
// underscores; the whole name is at most 253 characters plus a final dot.
func hostnameProblem(s string) string {
	name := strings.TrimSuffix(s, ".")
	if name == "" || len(name) > 253 {
		return "a hostname has 1 to 253 characters"
	}
	if strings.HasPrefix(name, "*") {
		return "wildcard hostnames are not supported"
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > 63 {
			return "each dot-separated part of a hostname has 1 to 63 characters"
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return "a hostname part cannot start or end with -"
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Sprintf("%q is not allowed in a hostname", c)
			}
		}
	}
	return ""
}

// destList is a destination list and its expansion.
type destList struct {
	decl  *DestListDecl
	state int  // 0 not expanded, 1 expanding, 2 done
	any   bool // contains any, directly or through another list
	set   *netipx.IPSet
	// dests is the list as a rule's whole `to` (rv.listDestinations),
	// computed once: ten policies denying one long list share it.
	dests *Destinations
}

// expandLists expands every destination list in file order, reporting each
// list's errors once, at the list's entries.
func (rv *resolver) expandLists() {
	for _, d := range rv.file.Destinations {
		rv.expand(rv.lists[d.Name], nil)
	}
	for _, d := range rv.file.Destinations { // computed now: rules are resolved in parallel
		rv.listDestinations(rv.lists[d.Name])
	}
}

// expand computes l's addresses. path is the chain of lists being expanded
// that led to l, for cycle reports.
func (rv *resolver) expand(l *destList, path []string) {
	if l.state != 0 {
		return
	}
	l.state = 1
	var b netipx.IPSetBuilder
	path = append(path, l.decl.Name)
	for _, e := range l.decl.Entries {
		l.any = rv.addEntry(&b, e, path) || l.any
	}
	l.set, _ = b.IPSet()
	l.state = 2
}

// addEntry adds the `to` entry e to b and reports whether it means any
// destination. path is the chain of lists being expanded (nil in a rule).
func (rv *resolver) addEntry(b *netipx.IPSetBuilder, e *Scalar, path []string) (any bool) {
	kind, prefix, msg := rv.classify(e.Value)
	switch kind {
	case toAny:
		return true
	case toPrefix:
		b.AddPrefix(prefix)
	case toList:
		return rv.addList(b, e, path)
	case toHost:
		rv.addHost(b, e)
	default:
		rv.errorf(e.Pos, "%s", msg)
	}
	return false
}

// addList adds the list named by e to b, reporting reference cycles.
func (rv *resolver) addList(b *netipx.IPSetBuilder, e *Scalar, path []string) (any bool) {
	l := rv.lists[e.Value]
	if l.state == 1 {
		cycle := append(path[indexOf(path, e.Value):], e.Value)
		rv.errorf(e.Pos, "destination list %q refers back to itself (%s); remove one of these references", e.Value, strings.Join(cycle, " -> "))
		return false
	}
	rv.expand(l, path)
	if l.set != nil {
		b.AddSet(l.set)
	}
	return l.any
}

// indexOf returns the index of s in list, or 0.
func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return 0
}

// destinations resolves a rule's `to` list; nil means any destination.
// The result is shared and must not be modified.
func (rv *resolver) destinations(entries []*Scalar) *Destinations {
	if len(entries) == 0 {
		return nil
	}
	if len(entries) == 1 {
		switch kind, p, _ := rv.classify(entries[0].Value); kind {
		case toList:
			return rv.listDestinations(rv.lists[entries[0].Value])
		case toPrefix: // what the set of one prefix gives, without building it
			if p.Addr().Is4() {
				return &Destinations{V4: []netip.Prefix{p}}
			}
			return &Destinations{V6: []netip.Prefix{p}}
		}
	}
	var b netipx.IPSetBuilder
	any := false
	for _, e := range entries {
		any = rv.addEntry(&b, e, nil) || any
	}
	if any {
		return nil
	}
	set, _ := b.IPSet()
	d := splitFamilies(set)
	d.Hosts = rv.hostNames(entries, map[string]bool{})
	return d
}

// listDestinations is the expanded list l as a rule's whole `to`,
// computed once per list.
func (rv *resolver) listDestinations(l *destList) *Destinations {
	rv.expand(l, nil)
	if l.any {
		return nil
	}
	if l.dests == nil {
		l.dests = splitFamilies(l.set)
		l.dests.Hosts = rv.hostNames(l.decl.Entries, map[string]bool{})
	}
	return l.dests
}

// splitFamilies lists set's merged prefixes by address family.
func splitFamilies(set *netipx.IPSet) *Destinations {
	d := &Destinations{}
	if set == nil {
		return d
	}
	ps := set.Prefixes()
	n4 := 0
	for _, p := range ps {
		if p.Addr().Is4() {
			n4++
		}
	}
	if n4 > 0 {
		d.V4 = make([]netip.Prefix, 0, n4)
	}
	if n4 < len(ps) {
		d.V6 = make([]netip.Prefix, 0, len(ps)-n4)
	}
	for _, p := range ps {
		if p.Addr().Is4() {
			d.V4 = append(d.V4, p)
		} else {
			d.V6 = append(d.V6, p)
		}
	}
	return d
}
