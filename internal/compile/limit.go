package compile

import (
	"fmt"
	"math/big"
	"net/netip"
	"time"

	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
)

// Connection limits (`limit:` on an allow rule). Each kernel rule of the
// rule becomes four (nft):
//
//	MATCHES ct state new update @NAME_r2_rate_uid { meta skuid limit rate 10/minute burst 5 packets } accept  comment "NAME/r2"
//	                     (per rule: goto p_NAME.r2.limit, the chain of the rule's one bucket)
//	MATCHES ct state new limit rate 10/second burst 20 packets log prefix "leash NAME/r2/limit reject" ...  comment "NAME/r2/limit"
//	MATCHES ct state new reject                                                                      comment "NAME/r2/limit"
//	MATCHES accept                                                                                   comment "NAME/r2"
//
// A new connection within its budget is accepted by the first rule;
// beyond it, or when the meter is full (the kernel cannot add the key, so
// the first rule does not match), it falls to the refusal: a full meter
// refuses, never allows. Packets of connections already allowed pass by
// the last rule. The budget is one for the rule (`limit rate`), one per
// uid or per destination address (a meter: a dynamic set, one token
// bucket or connection count per key); `connections` is `ct count` per
// key. The refusals count under NAME/rN/limit, so `leash status` shows how
// many connections each rule limited.
//
// Meters are sized for what they cover: per user, the uids the policy
// names (with groups or everyone, at least DefaultMeterSize); per
// destination, the addresses the rule allows (at most DefaultMeterSize).
// Rate meters forget a key once its bucket would be full again.

const (
	// DefaultMeterSize is the size of a meter whose keys are not known
	// (the kernel's default for dynamic sets).
	DefaultMeterSize = 65535
	// MaxMeterSize bounds any meter.
	MaxMeterSize = 1 << 24
)

// LimitID is the origin id of the refusals of rule id's limit.
func LimitID(ruleID string) string { return ruleID + "/limit" }

// ruleLimit is a rule's limit with its meters, one per key kind.
type ruleLimit struct {
	l      *policy.Limit
	rate   map[ruleset.SetKind]string
	counts map[ruleset.SetKind]string
}

// limitAtoms makes the atoms of p's limited rules classic (kernel rules
// of their own, limitRules) and notes their limits.
func (c *compiler) limitAtoms(p *policy.ResolvedPolicy, atoms []*atom) {
	for _, a := range atoms {
		if a.rule.Limit != nil {
			a.classic = true
			if c.limits[a.rule] == nil {
				c.limits[a.rule] = &ruleLimit{l: a.rule.Limit, rate: map[ruleset.SetKind]string{}, counts: map[ruleset.SetKind]string{}}
			}
		}
	}
	c.policy = p
}

// limitRules compiles one atom part of a limited rule: pre are its
// matches (destination, protocol, ports, window), fam its family (0: any).
func (c *compiler) limitRules(a *atom, fam int, pre []ruleset.Match, o ruleset.Origin) []*ruleset.Rule {
	rl := c.limits[a.rule]
	if rl.l.Per == policy.PerDestination && fam == 0 {
		// One meter per address family: split the rule.
		var out []*ruleset.Rule
		for _, f := range []int{4, 6} {
			m := append(clone(pre), ruleset.Match{Kind: ruleset.MatchFamily, Value: uint32(f)})
			out = append(out, c.limitRules(a, f, m, o)...)
		}
		return out
	}
	newConn := append(clone(pre), ruleset.Match{Kind: ruleset.MatchCtNew})
	lo := o
	lo.ID, lo.What = LimitID(o.ID), "limit"
	lo.Text = fmt.Sprintf("new connections beyond %s (rule r%d)", limitText(rl.l), a.rule.Index)
	allow := &ruleset.Rule{Match: clone(pre), Verdict: ruleset.Verdict{Kind: ruleset.Accept}, Origin: o}
	if rl.l.Per == policy.PerRule {
		// One token bucket for the whole rule, whose kernel rules (one
		// per family and protocol) all go to one chain holding it.
		ch := c.limitChain(a.rule, rl, o, lo)
		return []*ruleset.Rule{{Match: newConn, Verdict: ruleset.Verdict{Kind: ruleset.Goto, Chain: ch}, Origin: o}, allow}
	}
	within := clone(newConn)
	if rl.l.Rate > 0 {
		lim := &ruleset.RateLimit{Rate: rl.l.Rate, Unit: rl.l.Unit, Burst: rl.l.Burst}
		within = append(within, ruleset.Match{Kind: ruleset.MatchMeter, Set: c.meter(a, rl, fam, false), Limit: lim})
	}
	if rl.l.Connections > 0 { // after the rate: a connection the rate refuses is not counted
		within = append(within, ruleset.Match{Kind: ruleset.MatchMeter, Set: c.meter(a, rl, fam, true), Count: rl.l.Connections})
	}
	out := []*ruleset.Rule{{Match: within, Verdict: ruleset.Verdict{Kind: ruleset.Accept}, Origin: o}}
	out = append(out, c.refusal(rl.l, newConn, lo)...)
	return append(out, allow)
}

// refusal is the log rule (if the limit logs) and the verdict for
// connections beyond a limit.
func (c *compiler) refusal(l *policy.Limit, pre []ruleset.Match, lo ruleset.Origin) []*ruleset.Rule {
	var out []*ruleset.Rule
	if l.Log {
		out = append(out, c.logRule(l.Over, pre, lo))
	}
	return append(out, actionRules(l.Over, clone(pre), lo)...)
}

// limitChain is the chain of rule r's one token bucket, added on first use:
//
//	chain p_NAME.rN.limit { limit rate R/U burst B packets accept; [log]; refusal }
func (c *compiler) limitChain(r *policy.ResolvedRule, rl *ruleLimit, o, lo ruleset.Origin) string {
	name := RuleChainName(c.policy.Name, r.Index) + ".limit"
	if c.ruleChains[name] != nil {
		return name
	}
	lim := &ruleset.RateLimit{Rate: rl.l.Rate, Unit: rl.l.Unit, Burst: rl.l.Burst}
	ch := &ruleset.Chain{Name: name, Rules: []*ruleset.Rule{{Match: []ruleset.Match{{Kind: ruleset.MatchLimit, Limit: lim}},
		Verdict: ruleset.Verdict{Kind: ruleset.Accept}, Origin: o}}}
	ch.Rules = append(ch.Rules, c.refusal(rl.l, nil, lo)...)
	c.ruleChains[name] = ch
	c.pending = append(c.pending, ruleChain{r.Index, ch})
	return name
}

// limitText describes a limit: "10/minute (burst 5) per user".
func limitText(l *policy.Limit) string {
	s := ""
	if l.Rate > 0 {
		s = fmt.Sprintf("%d/%s (burst %d)", l.Rate, l.Unit, l.Burst)
	}
	if l.Connections > 0 {
		if s != "" {
			s += " and "
		}
		s += fmt.Sprintf("%d open at once", l.Connections)
	}
	return s + " per " + string(l.Per)
}

// meter returns the name of rule a.rule's meter for its key in family fam
// (a count meter when count), adding it on first use.
func (c *compiler) meter(a *atom, rl *ruleLimit, fam int, count bool) string {
	kind := ruleset.KindUID
	if rl.l.Per == policy.PerDestination {
		kind = ruleset.KindIPv4
		if fam == 6 {
			kind = ruleset.KindIPv6
		}
	}
	names := rl.rate
	what := "rate"
	if count {
		names, what = rl.counts, "conns"
	}
	if n, ok := names[kind]; ok {
		return n
	}
	suffix := "uid"
	if kind != ruleset.KindUID {
		suffix = fmt.Sprintf("v%d", fam)
	}
	name := fmt.Sprintf("%s_r%d_%s_%s", setPrefix(c.policy.Name), a.rule.Index, what, suffix)
	m := &ruleset.Meter{Size: c.meterSize(a.rule, kind)}
	if !count {
		refill := (uint64(rl.l.Burst) + uint64(rl.l.Rate) - 1) / uint64(rl.l.Rate)
		m.Timeout = time.Duration(max(refill, 1)*ruleset.LogUnitSeconds(rl.l.Unit)) * time.Second
	}
	c.rs.Sets = append(c.rs.Sets, &ruleset.Set{Name: name, Kind: kind, Meter: m})
	names[kind] = name
	return name
}

// meterSize is how many keys of kind a meter of rule r must hold.
func (c *compiler) meterSize(r *policy.ResolvedRule, kind ruleset.SetKind) uint32 {
	var n uint64
	if kind == ruleset.KindUID {
		for _, rs := range [][]ruleset.Range{c.policy.UIDs, c.policy.MemberUIDs} {
			for _, u := range rs {
				n += uint64(u.Hi) - uint64(u.Lo) + 1
			}
		}
		if c.policy.Everyone || len(c.policy.GIDs) > 0 {
			n = max(n, DefaultMeterSize) // uids the policy does not list
		}
		return uint32(min(max(n, 1), MaxMeterSize))
	}
	if r.To == nil {
		return DefaultMeterSize
	}
	ps := r.To.V4
	if kind == ruleset.KindIPv6 {
		ps = r.To.V6
	}
	return uint32(min(max(addresses(ps), 1), DefaultMeterSize))
}

// addresses counts the addresses of disjoint prefixes, saturating.
func addresses(ps []netip.Prefix) uint64 {
	total := new(big.Int)
	for _, p := range ps {
		total.Add(total, new(big.Int).Lsh(big.NewInt(1), uint(p.Addr().BitLen()-p.Bits())))
	}
	if !total.IsUint64() {
		return 1<<64 - 1
	}
	return total.Uint64()
}
