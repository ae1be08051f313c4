package ruleset

import "fmt"

// ExplicitMatches returns r's matches with the protocol dependencies that nft
// (1.0.6) inserts implicitly made explicit, in the position nft inserts them:
//
//   - `ip daddr @s` / `ip6 daddr @s` need `meta nfproto ipv4|ipv6` unless the
//     family is already established; it is inserted right before the match.
//   - `icmp type @s` / `icmpv6 type @s` need `meta l4proto icmp|ipv6-icmp`
//     unless already established, preceded by `meta nfproto` if the family is
//     not established either.
//   - `reject with tcp reset` needs `meta l4proto tcp`; nft puts it first.
//
// The kernel holds exactly the explicit form, so this is the form the nft
// decoder reads back. It fails on contradictions nft itself rejects
// ("conflicting protocols specified").
func ExplicitMatches(rs Lookup, r *Rule) ([]Match, error) {
	var (
		out    []Match
		family uint32 // 0: not established
		l4     = -1   // -1: not established
	)
	for _, m := range r.Match {
		switch m.Kind {
		case MatchFamily:
			family = m.Value
		case MatchL4Proto:
			l4 = int(m.Value)
		case MatchDaddr:
			f, err := setFamily(rs, m.Set, KindIPv4, KindIPv6)
			if err != nil {
				return nil, err
			}
			if family == 0 {
				out = append(out, Match{Kind: MatchFamily, Value: f})
				family = f
			} else if family != f {
				return nil, fmt.Errorf("match daddr @%s: conflicting protocols: family ipv%d vs. ipv%d", m.Set, family, f)
			}
		case MatchICMPType:
			f, err := setFamily(rs, m.Set, KindICMP, KindICMPv6)
			if err != nil {
				return nil, err
			}
			p := ProtoICMP
			if f == 6 {
				p = ProtoICMPv6
			}
			switch {
			case l4 == p:
			case l4 != -1:
				return nil, fmt.Errorf("match icmp-type @%s: conflicting protocols: l4proto %s vs. %s", m.Set, ProtoName(uint8(l4)), ProtoName(uint8(p)))
			case family != 0 && family != f:
				return nil, fmt.Errorf("match icmp-type @%s: conflicting protocols: family ipv%d vs. ipv%d", m.Set, family, f)
			default:
				if family == 0 {
					out = append(out, Match{Kind: MatchFamily, Value: f})
					family = f
				}
				out = append(out, Match{Kind: MatchL4Proto, Value: uint32(p)})
				l4 = p
			}
		}
		out = append(out, m)
	}
	if r.Verdict.Kind == RejectTCPRST {
		switch l4 {
		case ProtoTCP:
		case -1:
			out = append([]Match{{Kind: MatchL4Proto, Value: ProtoTCP}}, out...)
		default:
			return nil, fmt.Errorf("reject with tcp reset: conflicting protocols: l4proto %s", ProtoName(uint8(l4)))
		}
	}
	return out, nil
}

// setFamily returns 4 if set name has kind v4, 6 if it has kind v6.
func setFamily(rs Lookup, name string, v4, v6 SetKind) (uint32, error) {
	s := rs.Set(name)
	switch {
	case s == nil:
		return 0, fmt.Errorf("set %q does not exist", name)
	case s.Kind == v4:
		return 4, nil
	case s.Kind == v6:
		return 6, nil
	}
	return 0, fmt.Errorf("set %q has kind %s, want %s or %s", name, s.Kind, v4, v6)
}

// Canonical returns a deep copy of rs in which every rule's matches are
// ExplicitMatches (rules with contradictions are copied unchanged). Two
// rulesets that load into the same kernel state have equal canonical forms
// (up to Origin fields other than ID, which the kernel does not store).
func Canonical(rs *Ruleset) *Ruleset {
	ix := NewIndex(rs)
	out := &Ruleset{}
	for _, s := range rs.Sets {
		c := *s
		c.Prefixes = append(c.Prefixes[:0:0], s.Prefixes...)
		c.Ranges = append(c.Ranges[:0:0], s.Ranges...)
		c.Cgroups = append(c.Cgroups[:0:0], s.Cgroups...)
		c.State = append(c.State[:0:0], s.State...)
		out.Sets = append(out.Sets, &c)
	}
	for _, m := range rs.Maps {
		c := *m
		c.Entries = append(c.Entries[:0:0], m.Entries...)
		out.Maps = append(out.Maps, &c)
	}
	for _, ch := range rs.Chains {
		c := *ch
		if ch.Hook != nil {
			h := *ch.Hook
			c.Hook = &h
		}
		c.Rules = nil
		for _, r := range ch.Rules {
			nr := *r
			nr.Match = append(r.Match[:0:0], r.Match...)
			if m, err := ExplicitMatches(ix, r); err == nil {
				nr.Match = m
			}
			c.Rules = append(c.Rules, &nr)
		}
		out.Chains = append(out.Chains, &c)
	}
	return out
}
