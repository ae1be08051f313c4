package compile

import (
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
)

// policyChain compiles one policy into chain p_NAME:
//
//	exthdr rt exists drop               (IPv6 routing headers)
//	ip option lsrr|ssrr exists drop     (IPv4 source routes)
//	ct direction reply accept           (if established: allow)
//	oif "lo" ...                        (loopback access, unless loopback: rules)
//	<rules, first match wins>           (a logged denial: its limit+log rule first;
//	                                     shared lookups for many rules, see flat.go)
//	[limit ... log ...]                 (if the default denies and log is on)
//	<default verdict>
//
// The chain always ends in a terminal verdict, so a packet that enters it is
// decided by this policy alone.
func (c *compiler) policyChain(p *policy.ResolvedPolicy) {
	ch := &ruleset.Chain{Name: ChainName(p.Name)}
	// First, before any accept: a socket may set an IPv6 routing header
	// (segment routing), so that the packet's destination, which the rules
	// judge, is only its first hop; the kernel forwards it on to the last
	// segment. A restricted subject's packets with one are dropped.
	ch.Rules = append(ch.Rules, &ruleset.Rule{
		Match:   []ruleset.Match{{Kind: ruleset.MatchRoutingHeader}},
		Verdict: ruleset.Verdict{Kind: ruleset.Drop},
		Origin:  c.origin(p.Name+"/routing-header", p.Name, "routing-header", 0, p.Pos, "IPv6 routing headers are dropped: they send a packet beyond the destination the rules judge"),
	})
	// The IPv4 analogue: loose and strict source routes (IP_OPTIONS needs
	// no privilege).
	for _, opt := range []uint32{ruleset.OptLSRR, ruleset.OptSSRR} {
		ch.Rules = append(ch.Rules, &ruleset.Rule{
			Match:   []ruleset.Match{{Kind: ruleset.MatchSourceRoute, Value: opt}},
			Verdict: ruleset.Verdict{Kind: ruleset.Drop},
			Origin:  c.origin(p.Name+"/source-route", p.Name, "source-route", 0, p.Pos, "IPv4 source routes are dropped: they send a packet beyond the destination the rules judge"),
		})
	}
	if p.Established {
		ch.Rules = append(ch.Rules, &ruleset.Rule{
			Match:   []ruleset.Match{{Kind: ruleset.MatchCtReply}},
			Verdict: ruleset.Verdict{Kind: ruleset.Accept},
			Origin:  c.origin(p.Name+"/established", p.Name, "established", 0, p.EstablishedPos, setting("established: allow", p.EstablishedPos)),
		})
	}
	ch.Rules = append(ch.Rules, c.orphanJudged(p)...) // orphans.go
	ch.Rules = append(ch.Rules, c.loopbackRules(p)...)
	rules, warnings := c.ruleList(p)
	ch.Rules = append(ch.Rules, rules...)
	c.warnings = append(c.warnings, warnings...)
	def := c.origin(p.Name+"/default", p.Name, "default", 0, p.DefaultPos, "default: "+string(p.Default))
	if p.Log && p.Default != policy.Allow {
		ch.Rules = append(ch.Rules, c.logRule(p.Default, nil, def))
	}
	ch.Rules = append(ch.Rules, actionRules(p.Default, nil, def)...)
	c.policies = append(c.policies, ch)
	c.policies = append(c.policies, c.takePending()...) // the rules' verdict chains, in rule order
}

// loopbackRules compiles a policy's loopback access. Denied loopback traffic
// is rejected, so local clients fail at once instead of hanging.
func (c *compiler) loopbackRules(p *policy.ResolvedPolicy) []*ruleset.Rule {
	lo := []ruleset.Match{{Kind: ruleset.MatchLoopback}}
	o := c.origin(p.Name+"/loopback", p.Name, "loopback", 0, p.Loopback.Pos, setting("loopback: "+string(p.Loopback.Mode), p.Loopback.Pos))
	switch p.Loopback.Mode {
	case policy.LoopbackAll:
		return actionRules(policy.Allow, lo, o)
	case policy.LoopbackNone:
		return actionRules(policy.Reject, lo, o)
	case policy.LoopbackPorts:
		rules := c.ruleRules(p.Name, 0, policy.Allow, false, nil, p.Loopback.Protos, lo, o)
		return append(rules, actionRules(policy.Reject, lo, o)...)
	}
	return nil // LoopbackRules: loopback goes through the rules like anything else
}

// logRule is the rule in front of a logged denial's rules: the same
// matches, then `limit rate R/UNIT burst B packets counter log prefix
// "leash ID drop|reject" group G` (baseline.log). It does not end the
// chain; the denial follows.
func (c *compiler) logRule(a policy.Action, pre []ruleset.Match, o ruleset.Origin) *ruleset.Rule {
	v := ruleset.Drop
	if a == policy.Reject {
		v = ruleset.RejectAdmin
	}
	ls := c.log
	return &ruleset.Rule{Match: clone(pre), Origin: o, Verdict: ruleset.Verdict{Kind: ruleset.Log, Log: &ruleset.LogAction{
		Prefix: ruleset.LogPrefix(o.ID, v), Group: ls.Group, Rate: ls.Rate, Unit: ls.Unit, Burst: ls.Burst}}}
}

// actionRules turns an action into kernel rules after the matches in pre.
// Reject becomes two rules: a TCP reset for TCP, ICMP admin-prohibited for
// everything else.
func actionRules(a policy.Action, pre []ruleset.Match, o ruleset.Origin) []*ruleset.Rule {
	switch a {
	case policy.Allow:
		return []*ruleset.Rule{{Match: pre, Verdict: ruleset.Verdict{Kind: ruleset.Accept}, Origin: o}}
	case policy.Deny:
		return []*ruleset.Rule{{Match: pre, Verdict: ruleset.Verdict{Kind: ruleset.Drop}, Origin: o}}
	}
	return rejectRules(pre, o)
}

// rejectRules rejects with a TCP reset when the packet is TCP and with
// icmpx admin-prohibited otherwise. When pre already fixes the protocol,
// only the rule that can match is emitted.
func rejectRules(pre []ruleset.Match, o ruleset.Origin) []*ruleset.Rule {
	proto, fixed := fixedProto(pre)
	var out []*ruleset.Rule
	if !fixed || proto == ruleset.ProtoTCP {
		m := pre
		if !fixed {
			m = append(clone(pre), ruleset.Match{Kind: ruleset.MatchL4Proto, Value: ruleset.ProtoTCP})
		}
		out = append(out, &ruleset.Rule{Match: m, Verdict: ruleset.Verdict{Kind: ruleset.RejectTCPRST}, Origin: o})
	}
	if !fixed || proto != ruleset.ProtoTCP {
		out = append(out, &ruleset.Rule{Match: clone(pre), Verdict: ruleset.Verdict{Kind: ruleset.RejectAdmin}, Origin: o})
	}
	return out
}

func fixedProto(ms []ruleset.Match) (uint32, bool) {
	for _, m := range ms {
		if m.Kind == ruleset.MatchL4Proto {
			return m.Value, true
		}
	}
	return 0, false
}

func clone(ms []ruleset.Match) []ruleset.Match {
	if ms == nil {
		return nil
	}
	return append([]ruleset.Match(nil), ms...)
}
