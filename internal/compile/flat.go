package compile

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
)

// A policy's rule list, flattened: the per-packet cost of the rules is a
// fixed number of lookups, whatever the number of rules.
//
// Each rule is split into atoms (atoms.go), the atoms into groups of one
// key shape (groups.go), and first match is resolved at compile time
// inside each group (firstmatch.go). A group with atoms of two or more
// rules becomes one verdict map lookup (one per address prefix length,
// at most a few). An entry of a rule that accepts, or drops without
// logging, carries the verdict itself, with a counter and the rule's id
// (ruleset/entryverdict.go); the entries of other rules jump to a chain
// per rule:
//
//	chain p_NAME {
//	    ...
//	    ip daddr & 255.255.255.0 . meta l4proto . th dport vmap @NAME_m1_v4_24 comment "NAME/m1"
//	    <default>
//	}
//	map NAME_m1_v4_24 { ...; counter; elements = { 10.0.0.0 . tcp . 25 counter comment "NAME/r1" : accept, ... } }
//	chain p_NAME.r3 {
//	    counter reject comment "NAME/r3"      # the rule's verdict, log rule first
//	}
//
// so the rule's counter, log prefix and origin stay its own: `leash
// status` counts per rule, `leash check` names the rule, the log names it.
// A lookup whose rules have hundreds of entries each, on average (countsEntries),
// does not count per entry: every rule of it gets a verdict chain, one
// counter instead of one per entry. A group with atoms of one rule only keeps
// today's form, one kernel rule per atom with its own sets (as fast, and
// easier to read).

// RuleChainName is the chain holding the verdict of rule n of policy pol
// when the rule's matches are entries of a shared lookup. Policy names
// have no '.', so the name never collides with a policy chain.
func RuleChainName(pol string, n int) string { return ChainName(pol) + ".r" + strconv.Itoa(n) }

// ruleList compiles the rules of p, in first-match order, and reports
// its dead rules. Runs of rules with one time window go to a chain of
// their own behind one time lookup (when.go); without windows the list is
// one run.
func (c *compiler) ruleList(p *policy.ResolvedPolicy) ([]*ruleset.Rule, []Warning) {
	c.lookups = 0
	var out []*ruleset.Rule
	var warnings []Warning
	for k, run := range c.windowRuns(p) {
		rules, ws := c.flatList(p, run.rules)
		warnings = append(warnings, ws...)
		if run.times == nil {
			out = append(out, rules...)
			continue
		}
		out = append(out, c.windowBlock(p, k, run, rules))
	}
	return out, warnings
}

// flatList compiles rules (of p, in order) as one list: shared lookups
// with first match resolved at compile time.
func (c *compiler) flatList(p *policy.ResolvedPolicy, rules []*policy.ResolvedRule) ([]*ruleset.Rule, []Warning) {
	atoms := atomsOf(rules)
	c.limitAtoms(p, atoms)
	groups := groupAtoms(atoms)
	won := make(map[*atom]bool, len(atoms))
	own := map[*atom]bool{} // atoms compiled as rules of their own
	for _, g := range groups {
		if g.classic || g.rules() < 2 {
			for _, a := range g.atoms {
				own[a] = true
			}
		}
	}
	var out []*ruleset.Rule
	begun := map[*policy.ResolvedRule]bool{}
	for _, g := range groups {
		if !g.classic {
			elems := resolve(g, atoms, won)
			if !own[g.atoms[0]] {
				c.lookups++
				out = append(out, c.lookupRules(p, g, c.lookups, elems)...)
				continue
			}
		}
		for _, a := range g.atoms {
			if !begun[a.rule] {
				begun[a.rule] = true
				c.addressSets(p.Name, a.rule, atoms, own)
			}
			out = append(out, c.atomRules(p.Name, a)...)
		}
	}
	return out, deadRules(p, atoms, won)
}

// addressSets adds the address sets of rule r's atoms that get rules of
// their own, all families first, before any port set: the order sets had
// before rule lists were flattened, which keeps golden files and diffs of
// unchanged layouts unchanged.
func (c *compiler) addressSets(pol string, r *policy.ResolvedRule, atoms []*atom, own map[*atom]bool) {
	done := map[int]bool{}
	for _, a := range atoms {
		if a.rule == r && own[a] && a.fam != 0 && !done[a.fam] {
			done[a.fam] = true
			c.famParts(pol, r.Index, a.fam, a.pfx)
		}
	}
}

// atomRules compiles one atom as kernel rules of its own (the matches
// with its sets, a log rule first for a logged denial, the verdict).
func (c *compiler) atomRules(pol string, a *atom) []*ruleset.Rule {
	r := a.rule
	o := c.origin(ruleID(pol, r.Index), pol, "rule", r.Index, r.Pos, r.Text)
	var protos []policy.ProtoSpec
	if a.spec != nil {
		protos = []policy.ProtoSpec{*a.spec}
	}
	fams := []family{{v: 0}}
	if a.fam != 0 {
		fams = c.famParts(pol, r.Index, a.fam, a.pfx)
	}
	var out []*ruleset.Rule
	for _, fam := range fams {
		for _, pm := range c.protoMatches(pol, r.Index, fam.v, protos) {
			m := append(clone(fam.match), pm...)
			if r.Limit != nil {
				out = append(out, c.limitRules(a, fam.v, m, o)...)
				continue
			}
			if len(r.Via) > 0 {
				out = append(out, viaRules(r.Via, m, o)...) // allow rules only (policy.Resolve)
				continue
			}
			if r.Log && r.Action != policy.Allow {
				out = append(out, c.logRule(r.Action, m, o))
			}
			out = append(out, actionRules(r.Action, m, o)...)
		}
	}
	return out
}

// lookupRules turns group g (the k-th shared lookup of p) into its maps
// and the rules that look them up; every rule with an entry gets its
// verdict in the entry (entryTarget) or its verdict chain.
func (c *compiler) lookupRules(p *policy.ResolvedPolicy, g *group, k int, elems []element) []*ruleset.Rule {
	first := g.atoms[0].rule
	o := c.origin(fmt.Sprintf("%s/m%d", p.Name, k), p.Name, "lookup", 0, first.Pos,
		"one lookup for rules "+ruleNumbers(g)+", first match resolved at compile time")
	var pre []ruleset.Match
	if g.shape.proto != 0 {
		pre = []ruleset.Match{{Kind: ruleset.MatchL4Proto, Value: uint32(g.shape.proto)}}
	}
	base := fmt.Sprintf("%s_m%d", setPrefix(p.Name), k)
	var rules []*ruleset.Rule
	targets := make(map[*policy.ResolvedRule]ruleset.MapEntry, len(g.atoms)) // each rule's verdict or jump
	counts := countsEntries(g)
	for _, part := range keyParts(g.shape, elems) {
		m := &ruleset.Map{Name: base + part.suffix, Fields: part.fields, Interval: part.interval}
		m.Entries = make([]ruleset.MapEntry, len(part.elems))
		values := make([]ruleset.KeyValue, len(part.elems)*len(part.fields)) // one allocation for all keys
		var own []*policy.ResolvedRule                                       // rules whose entries carry their verdict
		inMap := make(map[*policy.ResolvedRule]bool, len(g.atoms))
		for i, e := range part.elems {
			r := e.atom.rule
			t, ok := targets[r]
			if !ok {
				t = c.entryTarget(p, r, counts)
				targets[r] = t
			}
			if t.Verdict != "" && !inMap[r] {
				inMap[r] = true
				own = append(own, r)
			}
			v := values[i*len(part.fields) : (i+1)*len(part.fields) : (i+1)*len(part.fields)]
			keyValues(v, g.shape, part, e)
			t.Values = v
			m.Entries[i] = t
		}
		m.Counters = counts
		c.entryOrigins(p, m, own)
		c.rs.Maps = append(c.rs.Maps, m)
		rules = append(rules, &ruleset.Rule{Match: clone(pre), Verdict: ruleset.Verdict{Kind: ruleset.VMap, Map: m.Name}, Origin: o})
	}
	return rules
}

// entryTarget is what the entries of rule r of p do in a map that counts
// per entry (counts): accept, or drop for a denial that is not logged, in
// the entry itself; anything else (a reject, a logged denial, any rule of
// a map that does not count) is a jump to the rule's verdict chain.
func (c *compiler) entryTarget(p *policy.ResolvedPolicy, r *policy.ResolvedRule, counts bool) ruleset.MapEntry {
	switch {
	case counts && r.Action == policy.Allow:
		return ruleset.MapEntry{Verdict: ruleset.Accept, Rule: ruleID(p.Name, r.Index)}
	case counts && r.Action == policy.Deny && !r.Log: // as verdictInEntries
		return ruleset.MapEntry{Verdict: ruleset.Drop, Rule: ruleID(p.Name, r.Index)}
	}
	return ruleset.MapEntry{Chain: c.ruleChain(p, r)}
}

// manyEntries is the number of map entries per rule beyond which the rules
// of a lookup are counted by a verdict chain each (one rule, one counter)
// rather than by a counter on each entry. The trade: each entry's counter
// is a per-CPU allocation in the kernel at every apply and restore (for
// 100 rules of 1,000 addresses each, a fifth of the apply), the chain a
// jump for every packet the rule decides (2-4% per packet in
// bench/egress). So only rules of hundreds of entries get chains.
const manyEntries = 256

// countsEntries reports whether the maps of group g count per entry: when
// a rule of the group may carry its verdict in its entries
// (verdictInEntries) and the group's rules have few entries each, on
// average (entriesOf). It depends on the group's rules, not on which
// entries a map got, so a hostname's new address never changes a map's
// declaration.
func countsEntries(g *group) bool {
	carries := false
	entries, rules := 0, 0
	var last *policy.ResolvedRule
	for _, a := range g.atoms { // a rule's atoms are adjacent
		entries += entriesOf(a)
		if a.rule == last {
			continue
		}
		last = a.rule
		carries = carries || verdictInEntries(a.rule)
		rules++
	}
	return carries && entries <= manyEntries*rules
}

// verdictInEntries reports whether rule r's verdict fits in a map entry:
// it accepts, or drops without logging.
func verdictInEntries(r *policy.ResolvedRule) bool {
	return r.Action == policy.Allow || r.Action == policy.Deny && !r.Log
}

// entriesOf estimates the map entries atom a adds, from what its rule
// names and never from what hostnames resolve to (an atom of a rule with
// a hostname counts as one, so that a lookup's declaration stays when
// addresses change): its prefixes times its port or type ranges.
func entriesOf(a *atom) int {
	if a.rule.To != nil && len(a.rule.To.Hosts) > 0 {
		return 1
	}
	return max(1, len(a.pfx)) * max(1, len(a.subs))
}

// entryOrigins records in m the origins of the rules own, whose entries
// carry their verdict, in rule order.
func (c *compiler) entryOrigins(p *policy.ResolvedPolicy, m *ruleset.Map, own []*policy.ResolvedRule) {
	if len(own) == 0 {
		return
	}
	sort.Slice(own, func(i, j int) bool { return own[i].Index < own[j].Index })
	m.Origins = make([]ruleset.Origin, len(own))
	for i, r := range own {
		m.Origins[i] = c.origin(ruleID(p.Name, r.Index), p.Name, "rule", r.Index, r.Pos, r.Text)
	}
}

// ruleChain returns the verdict chain of rule r of p, adding it on first use.
func (c *compiler) ruleChain(p *policy.ResolvedPolicy, r *policy.ResolvedRule) string {
	name := RuleChainName(p.Name, r.Index)
	if c.ruleChains[name] != nil {
		return name
	}
	o := c.origin(ruleID(p.Name, r.Index), p.Name, "rule", r.Index, r.Pos, r.Text)
	ch := &ruleset.Chain{Name: name}
	if r.Log && r.Action != policy.Allow {
		ch.Rules = append(ch.Rules, c.logRule(r.Action, nil, o))
	}
	ch.Rules = append(ch.Rules, actionRules(r.Action, nil, o)...)
	c.ruleChains[name] = ch
	c.pending = append(c.pending, ruleChain{r.Index, ch})
	return name
}

// ruleChain is a rule's verdict chain, with the rule's number.
type ruleChain struct {
	n  int
	ch *ruleset.Chain
}

// takePending returns the verdict chains of the policy compiled last, in
// rule order, and forgets them.
func (c *compiler) takePending() []*ruleset.Chain {
	sort.SliceStable(c.pending, func(i, j int) bool { return c.pending[i].n < c.pending[j].n })
	out := make([]*ruleset.Chain, len(c.pending))
	for i, p := range c.pending {
		out[i] = p.ch
	}
	c.pending = nil
	clear(c.ruleChains) // chain names are per policy
	return out
}

// keyPart is one map of a group's lookup: the entries of one address
// prefix length (masked hash), or of the remaining lengths (interval, for
// a key that is an address alone).
type keyPart struct {
	fields   []ruleset.KeyField
	interval bool
	suffix   string
	elems    []element
}

// keyParts lays out a group's entries as maps. A key without an address
// field is one hash map. With one, entries are grouped by prefix length:
// each length is a hash map looked up with that mask (one O(1) lookup per
// length). For a key that is an address alone, only the biggest lengths
// (at least hashGroupMin entries, at most maxHashGroups of them, as for
// sets: layout.go) get hash maps, and the rest share one interval map.
func keyParts(s shape, elems []element) []keyPart {
	var rest []ruleset.KeyField
	if s.protoKey {
		rest = append(rest, ruleset.KeyField{Kind: ruleset.KindProto})
	}
	if s.sub != "" {
		rest = append(rest, ruleset.KeyField{Kind: s.sub})
	}
	if s.fam == 0 {
		return []keyPart{{fields: rest, elems: elems}}
	}
	kind, bits := ruleset.KindIPv4, 32
	if s.fam == 6 {
		kind, bits = ruleset.KindIPv6, 128
	}
	byLen := map[int][]element{}
	var lens []int
	count := map[int]int{}
	for _, e := range elems {
		l := e.prefix.Bits()
		if count[l] == 0 {
			lens = append(lens, l)
		}
		count[l]++
	}
	if len(lens) == 1 {
		byLen[lens[0]] = elems // the common case: one length, no copy
	} else {
		for _, l := range lens {
			byLen[l] = make([]element, 0, count[l])
		}
		for _, e := range elems {
			byLen[e.prefix.Bits()] = append(byLen[e.prefix.Bits()], e)
		}
	}
	hashed := hashedLengths(lens, byLen, bits, len(rest) > 0)
	sort.Ints(lens)
	var parts, intervalPart []keyPart
	var ranged []element
	for _, l := range lens {
		if !hashed[l] {
			ranged = append(ranged, byLen[l]...)
			continue
		}
		f := ruleset.KeyField{Kind: kind}
		suffix := fmt.Sprintf("_v%d", s.fam)
		if l < bits {
			f.Mask = uint8(l)
			suffix += "_" + strconv.Itoa(l)
		}
		parts = append(parts, keyPart{fields: append([]ruleset.KeyField{f}, rest...), suffix: suffix, elems: sortElements(byLen[l])})
	}
	if len(ranged) > 0 {
		intervalPart = []keyPart{{fields: []ruleset.KeyField{{Kind: kind}}, interval: true,
			suffix: fmt.Sprintf("_v%d_int", s.fam), elems: sortElements(ranged)}}
	}
	return append(parts, intervalPart...)
}

// hashedLengths chooses the prefix lengths that get a hash map: all of
// them for a concatenated key (hash maps are the only kind with several
// fields here), else as splitPrefixes does for an address list.
func hashedLengths(lens []int, byLen map[int][]element, bits int, concat bool) map[int]bool {
	out := map[int]bool{}
	if concat || (len(lens) == 1 && lens[0] == bits) {
		for _, l := range lens {
			out[l] = true
		}
		return out
	}
	var big []int
	for _, l := range lens {
		if len(byLen[l]) >= hashGroupMin {
			big = append(big, l)
		}
	}
	sort.Slice(big, func(i, j int) bool {
		if a, b := len(byLen[big[i]]), len(byLen[big[j]]); a != b {
			return a > b
		}
		return big[i] > big[j]
	})
	for _, l := range big[:min(len(big), maxHashGroups)] {
		out[l] = true
	}
	return out
}

// sortElements orders entries by address, then cell, for a readable map.
func sortElements(es []element) []element {
	slices.SortStableFunc(es, func(x, y element) int {
		if c := x.prefix.Addr().Compare(y.prefix.Addr()); c != 0 {
			return c
		}
		if x.cell.proto != y.cell.proto {
			return int(x.cell.proto) - int(y.cell.proto)
		}
		return int(x.cell.sub) - int(y.cell.sub)
	})
	return es
}

// keyValues writes the key of element e in part into out (one value per
// field of the part).
func keyValues(out []ruleset.KeyValue, s shape, part keyPart, e element) {
	i := 0
	if s.fam != 0 {
		p := e.prefix
		if !part.interval {
			p = netip.PrefixFrom(p.Addr(), p.Addr().BitLen())
		}
		out[i] = ruleset.KeyValue{Prefix: p}
		i++
	}
	if s.protoKey {
		v := uint32(e.cell.proto)
		out[i] = ruleset.KeyValue{Range: ruleset.Range{Lo: v, Hi: v}}
		i++
	}
	if s.sub != "" {
		v := uint32(e.cell.sub)
		out[i] = ruleset.KeyValue{Range: ruleset.Range{Lo: v, Hi: v}}
	}
}

// ruleNumbers lists the rules of g compactly: "r1, r3-r7".
func ruleNumbers(g *group) string {
	var ns []int
	for _, a := range g.atoms {
		if len(ns) == 0 || ns[len(ns)-1] != a.rule.Index {
			ns = append(ns, a.rule.Index)
		}
	}
	sort.Ints(ns)
	var parts []string
	for i := 0; i < len(ns); {
		j := i
		for j+1 < len(ns) && ns[j+1] <= ns[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, fmt.Sprintf("r%d", ns[i]))
		} else {
			parts = append(parts, fmt.Sprintf("r%d-r%d", ns[i], ns[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}
