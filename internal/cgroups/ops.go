package cgroups

import (
	"slices"

	"github.com/leash-dev/leash/internal/ruleset"
)

// Ops are the element changes that take the live cgroup sets from have
// to want (Plan.Elements), adds first, then deletes; with have nil,
// every element of want is added and nothing deleted (adds are
// idempotent: a present element is kept).
func Ops(want, have map[string][]uint64) []ruleset.ElementOp {
	var ops, dels []ruleset.ElementOp
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		h := have[n]
		for _, id := range want[n] {
			if _, in := slices.BinarySearch(h, id); !in || have == nil {
				ops = append(ops, ruleset.ElementOp{Set: n, Elem: ruleset.Element{Cgroup: id}})
			}
		}
		for _, id := range h {
			if _, in := slices.BinarySearch(want[n], id); !in {
				dels = append(dels, ruleset.ElementOp{Set: n, Delete: true, Elem: ruleset.Element{Cgroup: id}})
			}
		}
	}
	return append(ops, dels...)
}
