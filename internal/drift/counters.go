package drift

import (
	"strings"

	"github.com/leash-dev/leash/internal/ruleset"
)

// Count is a packet and byte counter.
type Count struct {
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

func (c *Count) add(r *ruleset.Rule) {
	c.Packets += r.Packets
	c.Bytes += r.Bytes
}

// ChainCounters are the counters of one chain of the table: a policy's
// chain, or one of the dispatch and baseline chains (output, unowned).
type ChainCounters struct {
	Chain string `json:"chain"`
	// Policy is the policy the chain judges for, "" for other chains.
	Policy string `json:"policy,omitempty"`
	// Allowed sums the chain's accepting rules, Denied its dropping and
	// rejecting rules. Jumps and vmaps are in neither.
	Allowed Count          `json:"allowed"`
	Denied  Count          `json:"denied"`
	Rules   []RuleCounters `json:"rules"`
}

// RuleCounters are the summed counters of the kernel rules of one chain
// that share a rule id and a verdict (the IPv4 and IPv6 rules of one policy
// line, or a default's TCP reset and ICMP reject).
type RuleCounters struct {
	ID      string `json:"id"`
	Verdict string `json:"verdict"` // accept, drop, reject, jump CHAIN, goto CHAIN, vmap MAP, continue
	Count
	// Source is where the rule comes from, FILE:LINE:COL, and Text the
	// policy line, when the rule's origin is known.
	Source string `json:"source,omitempty"`
	Text   string `json:"text,omitempty"`
}

// Counters sums the counters of rs (read from the kernel, Origin filled in
// as far as known) per chain and per rule id and verdict, in table order.
//
// A chain named after the chain before it plus ".SUFFIX" (p_web.r3: the
// verdict chain of a rule whose matches share a lookup, see
// compile.RuleChainName) is counted as part of that chain, so a policy's
// totals and its rules' counters are the same whatever the layout.
func Counters(rs *ruleset.Ruleset) []ChainCounters {
	var out []ChainCounters
	var index map[[2]string]int
	for _, c := range rs.Chains {
		if n := len(out); n > 0 && strings.HasPrefix(c.Name, out[n-1].Chain+".") {
			out[n-1].addRules(c, index)
			continue
		}
		cc := ChainCounters{Chain: c.Name, Rules: []RuleCounters{}}
		index = map[[2]string]int{}
		cc.addRules(c, index)
		out = append(out, cc)
	}
	return out
}

// addRules adds the rules of c to cc; index finds cc's rule rows by id and
// verdict.
func (cc *ChainCounters) addRules(c *ruleset.Chain, index map[[2]string]int) {
	for _, r := range c.Rules {
		if cc.Policy == "" && r.Origin.What != "dispatch" {
			cc.Policy = r.Origin.Policy // dispatch rules name the policy they jump to
		}
		switch {
		case r.Verdict.Allows():
			cc.Allowed.add(r)
		case r.Verdict.Terminal():
			cc.Denied.add(r)
		}
		key := [2]string{r.Origin.ID, verdictClass(r.Verdict)}
		i, ok := index[key]
		if !ok {
			i = len(cc.Rules)
			index[key] = i
			cc.Rules = append(cc.Rules, RuleCounters{ID: key[0], Verdict: key[1], Source: r.Origin.Where(), Text: r.Origin.Text})
		}
		cc.Rules[i].add(r)
	}
}

// verdictClass names a verdict for counting: both reject kinds are
// "reject".
func verdictClass(v ruleset.Verdict) string {
	switch v.Kind {
	case ruleset.RejectTCPRST, ruleset.RejectAdmin:
		return "reject"
	case ruleset.Jump, ruleset.Goto:
		return string(v.Kind) + " " + v.Chain
	case ruleset.VMap:
		return "vmap " + v.Map
	}
	return strings.TrimSpace(string(v.Kind))
}
