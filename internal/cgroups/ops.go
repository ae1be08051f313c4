package cgroups

import (
	"cmp"
	"slices"

	"github.com/leash-dev/leash/internal/ruleset"
)

// Ops are the element changes that take the live cgroup sets and maps
// from have to want (Plan.Elements, sorted by id), adds first, then
// deletes; with have nil, every element of want is added and nothing
// deleted (adds are idempotent: a present element is kept). An element
// of a verdict map whose chain changes, or any map element when have is
// nil (its chain in the kernel unknown), is deleted and re-added in the
// same update: the kernel changes no element's data in place.
func Ops(want, have map[string][]ruleset.Element) []ruleset.ElementOp {
	var ops, dels []ruleset.ElementOp
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		h := have[n]
		for _, e := range want[n] {
			i, in := find(h, e.Cgroup)
			switch {
			case in && have != nil && h[i].Chain == e.Chain:
				continue
			case e.Chain != "" && (have == nil || in):
				ops = append(ops, ruleset.ElementOp{Set: n, Delete: true, Elem: ruleset.Element{Cgroup: e.Cgroup}})
			}
			ops = append(ops, ruleset.ElementOp{Set: n, Elem: e})
		}
		for _, e := range h {
			if _, in := find(want[n], e.Cgroup); !in {
				dels = append(dels, ruleset.ElementOp{Set: n, Delete: true, Elem: ruleset.Element{Cgroup: e.Cgroup}})
			}
		}
	}
	return append(ops, dels...)
}

// find looks id up in elems, sorted by id.
func find(elems []ruleset.Element, id uint64) (int, bool) {
	return slices.BinarySearchFunc(elems, id, func(e ruleset.Element, id uint64) int { return cmp.Compare(e.Cgroup, id) })
}
