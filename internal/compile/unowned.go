package compile

import (
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
)

// unowned builds the chain for packets that have no owning socket (the kernel
// cannot say which user sent them): kernel replies such as TCP resets and
// ICMP errors, packets of sockets already closed, neighbour discovery, and
// traffic of in-kernel clients (NFS, WireGuard). See docs/security.md.
//
//	ct state established,related accept       # packets of known connections
//	meta l4proto ipv6-icmp icmpv6 type @unowned_icmpv6 accept   # NDP, MLD
//	meta l4proto igmp accept                     # IGMP
//	then: goto p_EVERYONE | accept | drop     # by baseline.unowned
func (c *compiler) unowned(b policy.Baseline, everyone *policy.ResolvedPolicy) {
	ch := &ruleset.Chain{Name: ChainUnowned}
	o := func(id, text string) ruleset.Origin {
		return c.origin("unowned/"+id, "", "unowned", 0, b.Pos, text)
	}
	if b.Unowned == policy.UnownedAllow {
		ch.Rules = append(ch.Rules, &ruleset.Rule{Verdict: ruleset.Verdict{Kind: ruleset.Accept}, Origin: o("allow", setting("unowned: allow", b.Pos))})
		c.unownedChain = ch
		return
	}
	types, interval := numLayout([]ruleset.Range{{Lo: 130, Hi: 137}, {Lo: 143, Hi: 143}})
	c.rs.Sets = append(c.rs.Sets, &ruleset.Set{Name: SetUnownedICMPv6, Kind: ruleset.KindICMPv6, Interval: interval, Ranges: types})
	ch.Rules = append(ch.Rules,
		&ruleset.Rule{Match: []ruleset.Match{{Kind: ruleset.MatchCtEstablished}},
			Verdict: ruleset.Verdict{Kind: ruleset.Accept}, Origin: o("established", "packets of connections conntrack already knows")},
		&ruleset.Rule{Match: []ruleset.Match{{Kind: ruleset.MatchL4Proto, Value: ruleset.ProtoICMPv6}, {Kind: ruleset.MatchICMPType, Set: SetUnownedICMPv6}},
			Verdict: ruleset.Verdict{Kind: ruleset.Accept}, Origin: o("control", "IPv6 neighbour discovery and MLD")},
		&ruleset.Rule{Match: []ruleset.Match{{Kind: ruleset.MatchL4Proto, Value: ruleset.ProtoIGMP}},
			Verdict: ruleset.Verdict{Kind: ruleset.Accept}, Origin: o("control", "IGMP membership reports")},
	)
	last := &ruleset.Rule{Origin: o(string(b.Unowned), setting("unowned: "+string(b.Unowned), b.Pos))}
	switch {
	case b.Unowned == policy.UnownedDeny:
		last.Verdict = ruleset.Verdict{Kind: ruleset.Drop}
	case everyone != nil:
		last.Verdict = ruleset.Verdict{Kind: ruleset.Goto, Chain: ChainName(everyone.Name)}
	default:
		last.Verdict = ruleset.Verdict{Kind: ruleset.Accept}
		last.Origin.Text = "unowned: everyone (no everyone policy: allowed)"
	}
	ch.Rules = append(ch.Rules, last)
	c.unownedChain = ch
}
