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
//   - a vmap keyed by fields (Map.Fields): an ICMP type field needs the
//     rule to match its protocol before (an error otherwise, not an
//     insertion); an address field needs the family, but nft checks that
//     inside the vmap statement, after the counter: the nft encoder adds it
//     there, so it is not a match here (a conflicting family is an error).
//
// The kernel holds exactly the explicit form, so this is the form the nft
// decoder reads back. It fails on contradictions nft itself rejects
// ("conflicting protocols specified").
func ExplicitMatches(rs Lookup, r *Rule) ([]Match, error) {
	d := deps{l4: -1}
	for _, m := range r.Match {
		switch m.Kind {
		case MatchFamily:
			d.family = m.Value
		case MatchL4Proto:
			d.l4 = int(m.Value)
		case MatchDaddr:
			f, err := setFamily(rs, m.Set, KindIPv4, KindIPv6)
			if err != nil {
				return nil, err
			}
			if err := d.needFamily(f, "match daddr @"+m.Set); err != nil {
				return nil, err
			}
		case MatchICMPType:
			f, err := setFamily(rs, m.Set, KindICMP, KindICMPv6)
			if err != nil {
				return nil, err
			}
			if err := d.needICMP(f, "match icmp-type @"+m.Set); err != nil {
				return nil, err
			}
		case MatchRoutingHeader:
			if err := d.needFamily(6, "match exthdr rt exists"); err != nil {
				return nil, err
			}
		case MatchSourceRoute:
			if err := d.needFamily(4, "match ip option exists"); err != nil {
				return nil, err
			}
		case MatchMeter:
			if s := rs.Set(m.Set); s != nil && (s.Kind == KindIPv4 || s.Kind == KindIPv6) {
				f := uint32(4)
				if s.Kind == KindIPv6 {
					f = 6
				}
				if err := d.needFamily(f, "match meter @"+m.Set); err != nil {
					return nil, err
				}
			}
		}
		d.out = append(d.out, m)
	}
	if r.Verdict.Kind == VMap {
		// A concatenated key's fields come after the matches: an address
		// field needs its family, an ICMP type field its protocol.
		if m := rs.Map(r.Verdict.Map); m != nil && len(m.Fields) > 0 {
			family, icmp := keyNeeds(m.Fields)
			what := "vmap @" + m.Name
			if icmp != -1 && d.l4 != icmp {
				// nft would check the protocol inside the vmap statement;
				// leash's rules fix it with a match before.
				return nil, fmt.Errorf("%s: an ICMP type key field needs `meta l4proto %s` before it", what, ProtoName(uint8(icmp)))
			}
			if family != 0 && d.family != 0 && d.family != family {
				// nft checks the family inside the vmap statement, after the
				// counter; the encoder adds it there, it is no match.
				return nil, fmt.Errorf("%s: conflicting protocols: family ipv%d vs. ipv%d", what, d.family, family)
			}
		}
	}
	if r.Verdict.Kind == RejectTCPRST {
		switch d.l4 {
		case ProtoTCP:
		case -1:
			d.out = append([]Match{{Kind: MatchL4Proto, Value: ProtoTCP}}, d.out...)
		default:
			return nil, fmt.Errorf("reject with tcp reset: conflicting protocols: l4proto %s", ProtoName(uint8(d.l4)))
		}
	}
	return d.out, nil
}

// deps tracks what the matches so far establish (family 0 and l4 -1: not
// yet) and collects the explicit form.
type deps struct {
	out    []Match
	family uint32
	l4     int
}

// needFamily: an IPv4 or IPv6 payload follows; insert `meta nfproto`
// unless the family is established, fail if another one is.
func (d *deps) needFamily(f uint32, what string) error {
	if d.family == 0 {
		d.out = append(d.out, Match{Kind: MatchFamily, Value: f})
		d.family = f
	} else if d.family != f {
		return fmt.Errorf("%s: conflicting protocols: family ipv%d vs. ipv%d", what, d.family, f)
	}
	return nil
}

// needICMP: an ICMP (f 4) or ICMPv6 (f 6) header field follows; insert
// `[meta nfproto] meta l4proto icmp|ipv6-icmp` unless established.
func (d *deps) needICMP(f uint32, what string) error {
	p := ProtoICMP
	if f == 6 {
		p = ProtoICMPv6
	}
	switch {
	case d.l4 == p:
	case d.l4 != -1:
		return fmt.Errorf("%s: conflicting protocols: l4proto %s vs. %s", what, ProtoName(uint8(d.l4)), ProtoName(uint8(p)))
	case d.family != 0 && d.family != f:
		return fmt.Errorf("%s: conflicting protocols: family ipv%d vs. ipv%d", what, d.family, f)
	default:
		if d.family == 0 {
			d.out = append(d.out, Match{Kind: MatchFamily, Value: f})
			d.family = f
		}
		d.out = append(d.out, Match{Kind: MatchL4Proto, Value: uint32(p)})
		d.l4 = p
	}
	return nil
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
		c.Fields = append(c.Fields[:0:0], m.Fields...)
		c.Entries = append(c.Entries[:0:0], m.Entries...)
		c.Origins = append(c.Origins[:0:0], m.Origins...)
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
