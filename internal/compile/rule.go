package compile

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
)

// ruleRules compiles one policy rule into kernel rules: one per address family
// the destinations cover, times one per protocol the ports name (times two
// for reject, plus one in front when the denial is logged). pre holds matches that precede all of them (e.g. oif "lo").
// An empty family (a list with only IPv4 addresses has no IPv6 part) emits
// nothing for that family, so the rule cannot match there.
func (c *compiler) ruleRules(pol string, n int, a policy.Action, log bool, to *policy.Destinations, protos []policy.ProtoSpec, pre []ruleset.Match, o ruleset.Origin) []*ruleset.Rule {
	var out []*ruleset.Rule
	for _, fam := range c.families(pol, n, to) {
		for _, pm := range c.protoMatches(pol, n, fam.v, protos) {
			m := append(append(clone(pre), fam.match...), pm...)
			if log && a != policy.Allow {
				out = append(out, c.logRule(a, m, o))
			}
			out = append(out, actionRules(a, m, o)...)
		}
	}
	return out
}

// family is the destination part of a rule for one address family; v is 4, 6,
// or 0 for "any family".
type family struct {
	v     int
	match []ruleset.Match
}

func (c *compiler) families(pol string, n int, to *policy.Destinations) []family {
	if to == nil {
		return []family{{v: 0}}
	}
	return append(c.famParts(pol, n, 4, to.V4), c.famParts(pol, n, 6, to.V6)...)
}

// famParts is the destination part of rule n for family v (4 or 6), one
// lookup per part of the layout (layout.go); the parts are disjoint, so
// one kernel rule per part keeps first-match order.
func (c *compiler) famParts(pol string, n int, v int, ps []netip.Prefix) []family {
	kind := ruleset.KindIPv4
	if v == 6 {
		kind = ruleset.KindIPv6
	}
	var fams []family
	for _, part := range c.sets.layout(ps) {
		name := fmt.Sprintf("%s_r%d_v%d%s", setPrefix(pol), n, v, part.suffix)
		s := c.addrSet(name, kind, part)
		fams = append(fams, family{v: v, match: []ruleset.Match{{Kind: ruleset.MatchDaddr, Set: s, Mask: part.mask}}})
	}
	return fams
}

// protoMatches returns one match list per protocol of protos that can occur
// in family v (ICMP only with IPv4, ICMPv6 only with IPv6). nil protos means
// any protocol: a single empty match list.
func (c *compiler) protoMatches(pol string, n int, v int, protos []policy.ProtoSpec) [][]ruleset.Match {
	if protos == nil {
		return [][]ruleset.Match{nil}
	}
	var out [][]ruleset.Match
	for _, p := range protos {
		if (p.Proto == ruleset.ProtoICMP && v == 6) || (p.Proto == ruleset.ProtoICMPv6 && v == 4) {
			continue
		}
		m := []ruleset.Match{{Kind: ruleset.MatchL4Proto, Value: uint32(p.Proto)}}
		name := fmt.Sprintf("%s_r%d_%s", setPrefix(pol), n, protoSuffix(p.Proto))
		switch {
		case p.Ports != nil:
			m = append(m, ruleset.Match{Kind: ruleset.MatchDport, Set: c.numSet(name, ruleset.KindPort, p.Ports)})
		case p.Types != nil && p.Proto == ruleset.ProtoICMP:
			m = append(m, ruleset.Match{Kind: ruleset.MatchICMPType, Set: c.numSet(name, ruleset.KindICMP, p.Types)})
		case p.Types != nil && p.Proto == ruleset.ProtoICMPv6:
			m = append(m, ruleset.Match{Kind: ruleset.MatchICMPType, Set: c.numSet(name, ruleset.KindICMPv6, p.Types)})
		}
		out = append(out, m)
	}
	return out
}

func protoSuffix(p uint8) string {
	switch p {
	case ruleset.ProtoICMPv6:
		return "icmpv6"
	case ruleset.ProtoICMP:
		return "icmp"
	}
	return ruleset.ProtoName(p)
}

// addrSet adds the set of one address part, or returns the name of an
// identical one (same kind, layout and elements).
func (c *compiler) addrSet(name string, kind ruleset.SetKind, part addrPart) string {
	return c.sets.add(c.rs, setKey{kind: kind, interval: part.interval, mask: part.mask},
		&ruleset.Set{Name: name, Kind: kind, Interval: part.interval, Prefixes: part.elems})
}

// numSet adds a port or ICMP type set, or returns the name of an identical one
// for the same protocol (a set named ..._tcp is never used for UDP).
func (c *compiler) numSet(name string, kind ruleset.SetKind, rs []ruleset.Range) string {
	elems, interval := numLayout(rs)
	return c.sets.add(c.rs, setKey{kind: kind, interval: interval, proto: name[strings.LastIndexByte(name, '_'):]},
		&ruleset.Set{Name: name, Kind: kind, Interval: interval, Ranges: elems})
}
