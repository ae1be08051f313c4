package drift

import (
	"slices"
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
//
// The entries of a verdict map that carry their rule's verdict (see
// ruleset.Map.Counters) count for that rule: each such rule gets a row in
// the chain that looks the map up, after the lookup's, summing its
// entries' counters.
func Counters(rs *ruleset.Ruleset) []ChainCounters {
	var out []ChainCounters
	var index map[[2]string]int
	ix := ruleset.NewIndex(rs)
	for _, c := range rs.Chains {
		if n := len(out); n > 0 && strings.HasPrefix(c.Name, out[n-1].Chain+".") {
			out[n-1].addRules(ix, c, index)
			continue
		}
		cc := ChainCounters{Chain: c.Name, Rules: []RuleCounters{}}
		index = map[[2]string]int{}
		cc.addRules(ix, c, index)
		out = append(out, cc)
	}
	return out
}

// addRules adds the rules of c to cc, and the entry rules of the maps they
// look up (addEntries); index finds cc's rule rows by id and verdict.
func (cc *ChainCounters) addRules(ix ruleset.Lookup, c *ruleset.Chain, index map[[2]string]int) {
	for _, r := range c.Rules {
		cc.addRule(r, index)
		if r.Verdict.Kind == ruleset.VMap {
			if m := ix.Map(r.Verdict.Map); m != nil && m.Counters {
				cc.addEntries(m, index)
			}
		}
	}
}

// addEntries adds a row per rule of m's entries that carry a verdict, in
// the order of m's origins (the rules' order), rules m does not know
// after them by id. Linear in the entries.
func (cc *ChainCounters) addEntries(m *ruleset.Map, index map[[2]string]int) {
	type key struct {
		id string
		v  ruleset.VerdictKind
	}
	sums := map[key]*ruleset.Rule{}
	for _, e := range m.Entries {
		if e.Verdict == "" {
			continue
		}
		k := key{e.Rule, e.Verdict}
		r := sums[k]
		if r == nil {
			r = &ruleset.Rule{Verdict: e.EntryVerdict(), Origin: ruleset.Origin{ID: e.Rule}}
			sums[k] = r
		}
		r.Packets += e.Packets
		r.Bytes += e.Bytes
	}
	rank := make(map[string]int, len(m.Origins))
	for i, o := range m.Origins {
		rank[o.ID] = i
	}
	rules := make([]*ruleset.Rule, 0, len(sums))
	for _, r := range sums {
		if i, ok := rank[r.Origin.ID]; ok {
			r.Origin = m.Origins[i]
		}
		rules = append(rules, r)
	}
	slices.SortFunc(rules, func(a, b *ruleset.Rule) int {
		ra, oka := rank[a.Origin.ID]
		rb, okb := rank[b.Origin.ID]
		switch {
		case oka && okb && ra != rb:
			return ra - rb
		case oka != okb:
			if oka {
				return -1
			}
			return 1
		case a.Origin.ID != b.Origin.ID:
			return strings.Compare(a.Origin.ID, b.Origin.ID)
		}
		return strings.Compare(string(a.Verdict.Kind), string(b.Verdict.Kind))
	})
	for _, r := range rules {
		cc.addRule(r, index)
	}
}

// row returns the index of cc's row for origin o and verdict v, adding it.
func (cc *ChainCounters) row(index map[[2]string]int, o ruleset.Origin, v ruleset.Verdict) int {
	key := [2]string{o.ID, verdictClass(v)}
	i, ok := index[key]
	if !ok {
		i = len(cc.Rules)
		index[key] = i
		cc.Rules = append(cc.Rules, RuleCounters{ID: key[0], Verdict: key[1], Source: o.Where(), Text: o.Text})
	}
	return i
}

// addRule adds one rule's counters to cc's totals and to its row.
func (cc *ChainCounters) addRule(r *ruleset.Rule, index map[[2]string]int) {
	if cc.Policy == "" && r.Origin.What != "dispatch" {
		cc.Policy = r.Origin.Policy // dispatch rules name the policy they jump to
	}
	switch {
	case r.Verdict.Allows():
		cc.Allowed.add(r)
	case r.Verdict.Terminal():
		cc.Denied.add(r)
	}
	cc.Rules[cc.row(index, r.Origin, r.Verdict)].add(r)
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
