package policy

import (
	"cmp"
	"slices"

	"github.com/leash-dev/leash/internal/ruleset"
)

// mergeRanges returns rs sorted with overlapping and adjacent ranges merged.
// It returns nil for no ranges.
func mergeRanges(rs []ruleset.Range) []ruleset.Range {
	if len(rs) == 0 {
		return nil
	}
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b ruleset.Range) int { return cmp.Compare(a.Lo, b.Lo) })
	out := []ruleset.Range{rs[0]}
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		if last.Hi == ^uint32(0) || r.Lo <= last.Hi+1 {
			last.Hi = max(last.Hi, r.Hi)
			continue
		}
		out = append(out, r)
	}
	return out
}

// overlap returns the intersection of a and b and whether it is non-empty.
func overlap(a, b ruleset.Range) (ruleset.Range, bool) {
	r := ruleset.Range{Lo: max(a.Lo, b.Lo), Hi: min(a.Hi, b.Hi)}
	return r, r.Lo <= r.Hi
}

// uidsOf converts sorted unique ids to merged ranges.
func uidsOf(ids []uint32) []ruleset.Range {
	rs := make([]ruleset.Range, len(ids))
	for i, id := range ids {
		rs[i] = ruleset.Range{Lo: id, Hi: id}
	}
	return mergeRanges(rs)
}
