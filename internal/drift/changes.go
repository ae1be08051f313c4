package drift

import (
	"fmt"
	"slices"

	"github.com/leash-dev/leash/internal/ruleset"
)

// Op says which side has an item.
type Op string

// Added items are in the kernel only, removed items in the generation only,
// changed items in both but different.
const (
	Added   Op = "added"
	Removed Op = "removed"
	Changed Op = "changed"
)

// Change is one difference between the generation and the kernel.
type Change struct {
	Op Op `json:"op"`
	// What is "set", "map", "chain", "element" or "rule".
	What string `json:"what"`
	// In names the set, map or chain an element or rule belongs to.
	In string `json:"in,omitempty"`
	// Item is the set, map or chain name, or the element or rule in nft
	// syntax (without counters).
	Item string `json:"item"`
}

// String is a one-line description, e.g.
// `added rule in chain output: counter accept`.
func (c Change) String() string {
	if c.In == "" {
		return fmt.Sprintf("%s %s %s", c.Op, c.What, c.Item)
	}
	return fmt.Sprintf("%s %s in %s: %s", c.Op, c.What, c.In, c.Item)
}

// Changes lists the differences from want (the generation) to got (the
// kernel), both in canonical form: whole sets, maps and chains first, then
// elements and rules of those present on both sides. A set or chain that is
// added or removed as a whole is one change, not one per element or rule.
func Changes(want, got *ruleset.Ruleset) []Change {
	var out []Change
	wix, gix := ruleset.NewIndex(want), ruleset.NewIndex(got)
	out = append(out, setChanges(want, got, gix)...)
	out = append(out, mapChanges(want, got, gix)...)
	out = append(out, chainChanges(want, got, wix, gix)...)
	return out
}

// setChanges compares the sets of want and got by name.
func setChanges(want, got *ruleset.Ruleset, gix *ruleset.Index) []Change {
	return byName("set", want.Sets, got.Sets, gix.Set, func(w, g *ruleset.Set) []Change {
		if g.Kind != w.Kind || g.Interval != w.Interval {
			return []Change{{Op: Changed, What: "set", Item: fmt.Sprintf("%s: type %s, was %s", w.Name, setType(g.Kind, g.Interval), setType(w.Kind, w.Interval))}}
		}
		return listChanges("element", "set "+w.Name, setElements(w), setElements(g))
	})
}

// mapChanges compares the verdict maps of want and got by name.
func mapChanges(want, got *ruleset.Ruleset, gix *ruleset.Index) []Change {
	return byName("map", want.Maps, got.Maps, gix.Map, func(w, g *ruleset.Map) []Change {
		if mapType(g) != mapType(w) {
			return []Change{{Op: Changed, What: "map", Item: fmt.Sprintf("%s: type %s, was %s", w.Name, mapType(g), mapType(w))}}
		}
		return listChanges("element", "map "+w.Name, mapElements(w), mapElements(g))
	})
}

// named is what byName compares: a set, map or chain.
type named interface {
	*ruleset.Set | *ruleset.Map | *ruleset.Chain
}

// byName compares two lists of named objects (what: "set", "map",
// "chain"): one present only in want is removed, one only in got is added,
// each as a whole (in want's, then got's order); differ compares those
// present on both sides. lookup finds a name in got, nil if absent.
func byName[T named](what string, want, got []T, lookup func(string) T, differ func(w, g T) []Change) []Change {
	inWant := map[string]bool{}
	var out []Change
	for _, w := range want {
		name := nameOf(w)
		inWant[name] = true
		if g := lookup(name); g != nil {
			out = append(out, differ(w, g)...)
		} else {
			out = append(out, Change{Op: Removed, What: what, Item: name})
		}
	}
	for _, g := range got {
		if !inWant[nameOf(g)] {
			out = append(out, Change{Op: Added, What: what, Item: nameOf(g)})
		}
	}
	return out
}

func nameOf[T named](v T) string {
	switch v := any(v).(type) {
	case *ruleset.Set:
		return v.Name
	case *ruleset.Map:
		return v.Name
	case *ruleset.Chain:
		return v.Name
	}
	return ""
}

// setType describes a set's or map's key type and layout.
func setType(k ruleset.SetKind, interval bool) string {
	if interval {
		return string(k) + " (flags interval)"
	}
	return string(k)
}

// mapType describes a map's key (with how it is looked up, masks
// included) and layout.
func mapType(m *ruleset.Map) string {
	t := setType(ruleset.SetKind(ruleset.KeyTypeText(m)), m.Interval)
	if m.Counters {
		t += ", counter"
	}
	if k := ruleset.KeyText(m); len(m.Fields) > 0 {
		t += " looked up as " + k
	}
	return t
}

// chainChanges compares the chains of want and got by name, and the rules
// of chains on both sides.
func chainChanges(want, got *ruleset.Ruleset, wix, gix *ruleset.Index) []Change {
	return byName("chain", want.Chains, got.Chains, gix.Chain, func(w, g *ruleset.Chain) []Change {
		var out []Change
		if hookText(w) != hookText(g) {
			out = append(out, Change{Op: Changed, What: "chain", Item: fmt.Sprintf("%s: %s, was %s", w.Name, hookText(g), hookText(w))})
		}
		wr, gr := ruleTexts(wix, w), ruleTexts(gix, g)
		rules := listChanges("rule", "chain "+w.Name, wr, gr)
		if len(rules) == 0 && !slices.Equal(wr, gr) {
			rules = []Change{{Op: Changed, What: "chain", Item: w.Name + ": same rules in another order"}}
		}
		return append(out, rules...)
	})
}

// listChanges compares two lists as multisets: items of want missing from
// got are removed, items of got missing from want are added, each in its
// list's order.
func listChanges(what, in string, want, got []string) []Change {
	count := map[string]int{}
	for _, s := range got {
		count[s]++
	}
	var out []Change
	for _, s := range want {
		if count[s] > 0 {
			count[s]--
			continue
		}
		out = append(out, Change{Op: Removed, What: what, In: in, Item: s})
	}
	for _, s := range got {
		if count[s] > 0 {
			count[s]--
			out = append(out, Change{Op: Added, What: what, In: in, Item: s})
		}
	}
	return out
}

func setElements(s *ruleset.Set) []string {
	var out []string
	for _, p := range s.Prefixes {
		out = append(out, p.String())
	}
	for _, r := range s.Ranges {
		out = append(out, r.String())
	}
	for _, r := range s.Times {
		out = append(out, r.String())
	}
	return out
}

func mapElements(m *ruleset.Map) []string {
	var out []string
	for _, e := range m.Entries {
		out = append(out, ruleset.EntryText(m, e))
	}
	return out
}

func ruleTexts(rs ruleset.Lookup, c *ruleset.Chain) []string {
	var out []string
	for _, r := range c.Rules {
		out = append(out, ruleset.RuleText(rs, r, false))
	}
	return out
}

func hookText(c *ruleset.Chain) string {
	if c.Hook == nil {
		return "regular chain"
	}
	return fmt.Sprintf("hook %s priority %d", c.Hook.Hook, c.Hook.Priority)
}
