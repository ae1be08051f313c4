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
//	[ct mark ... drop]                         # stale orphans (orphans.go)
//	ct state established,related accept       # packets of known connections
//	[tcp option mptcp subtype 1 drop]          # MPTCP joins (mptcp.go)
//	meta l4proto ipv6-icmp icmpv6 type @unowned_icmpv6 accept   # NDP
//	meta l4proto ipv6-icmp icmpv6 type @unowned_mld limit rate 1/second burst 10 packets accept   # MLD reports
//	meta l4proto igmp limit rate 1/second burst 10 packets accept   # IGMP reports
//	then: goto p_EVERYONE | accept | drop     # by baseline.unowned
//
// Membership reports carry group addresses chosen by whoever joins them, so
// unlimited they are a covert channel out of any policy; they pass at a
// bounded rate (baseline.multicast_reports: limit), not at all (deny: they
// are judged like the rest), or without a limit (allow).
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
	nd, ndInterval := numLayout([]ruleset.Range{{Lo: 133, Hi: 137}})
	c.rs.Sets = append(c.rs.Sets, &ruleset.Set{Name: SetUnownedICMPv6, Kind: ruleset.KindICMPv6, Interval: ndInterval, Ranges: nd})
	ch.Rules = append(ch.Rules, c.staleOrphans(b)...) // orphans.go: before the established accept
	ch.Rules = append(ch.Rules,
		&ruleset.Rule{Match: []ruleset.Match{{Kind: ruleset.MatchCtEstablished}},
			Verdict: ruleset.Verdict{Kind: ruleset.Accept}, Origin: o("established", "packets of connections conntrack already knows")})
	ch.Rules = append(ch.Rules, c.mptcpJoins(b)...) // mptcp.go: new ownerless joins
	ch.Rules = append(ch.Rules,
		&ruleset.Rule{Match: []ruleset.Match{{Kind: ruleset.MatchL4Proto, Value: ruleset.ProtoICMPv6}, {Kind: ruleset.MatchICMPType, Set: SetUnownedICMPv6}},
			Verdict: ruleset.Verdict{Kind: ruleset.Accept}, Origin: o("control", "IPv6 neighbour discovery")},
	)
	ch.Rules = append(ch.Rules, c.multicastReports(b, o)...)
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

// multicastReports are the unowned chain's accepts of MLD and IGMP
// membership reports, by baseline.multicast_reports (see unowned).
func (c *compiler) multicastReports(b policy.Baseline, o func(id, text string) ruleset.Origin) []*ruleset.Rule {
	if b.MulticastReports == policy.MulticastDeny {
		return nil
	}
	mld, mldInterval := numLayout([]ruleset.Range{{Lo: 130, Hi: 132}, {Lo: 143, Hi: 143}})
	c.rs.Sets = append(c.rs.Sets, &ruleset.Set{Name: SetUnownedMLD, Kind: ruleset.KindICMPv6, Interval: mldInterval, Ranges: mld})
	mldMatch := []ruleset.Match{{Kind: ruleset.MatchL4Proto, Value: ruleset.ProtoICMPv6}, {Kind: ruleset.MatchICMPType, Set: SetUnownedMLD}}
	igmpMatch := []ruleset.Match{{Kind: ruleset.MatchL4Proto, Value: ruleset.ProtoIGMP}}
	what := "multicast_reports: limit (default)"
	if b.MulticastReports == policy.MulticastLimit {
		limit := ruleset.Match{Kind: ruleset.MatchLimit, Limit: &ruleset.RateLimit{Rate: policy.MulticastRate, Unit: "second", Burst: policy.MulticastBurst}}
		mldMatch, igmpMatch = append(mldMatch, limit), append(igmpMatch, limit)
	} else {
		what = "multicast_reports: allow"
	}
	accept := ruleset.Verdict{Kind: ruleset.Accept}
	return []*ruleset.Rule{
		{Match: mldMatch, Verdict: accept, Origin: o("mld", "MLD membership reports; "+what)},
		{Match: igmpMatch, Verdict: accept, Origin: o("igmp", "IGMP membership reports; "+what)},
	}
}
