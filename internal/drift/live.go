package drift

import (
	"fmt"

	"github.com/leash-dev/leash/internal/ruleset"
)

// declared is rs with the elements of its live sets left out
// (ruleset.Set.Declaration): a live set's elements are the engine's,
// recorded in the live snapshot, and change without a new generation, so
// drift compares live sets by their declaration only and everything else
// exactly. A set live on one side and static on the other keeps its
// elements on the static side, so the difference shows.
func declared(rs *ruleset.Ruleset) *ruleset.Ruleset {
	if rs == nil {
		return nil
	}
	out := *rs
	out.Sets = make([]*ruleset.Set, len(rs.Sets))
	for i, s := range rs.Sets {
		out.Sets[i] = s.Declaration()
	}
	return &out
}

// liveChanges lists the live sets present on both sides whose declaration
// (timeout, size, counters, source) differs.
func liveChanges(want, got *ruleset.Ruleset) []Change {
	gix := ruleset.NewIndex(got)
	var out []Change
	for _, w := range want.Sets {
		g := gix.Set(w.Name)
		if g == nil || (w.Live == nil && g.Live == nil) {
			continue
		}
		if w.Live == nil || g.Live == nil || *w.Live != *g.Live {
			out = append(out, Change{Op: Changed, What: "set", Item: fmt.Sprintf("%s: live %s, was %s", w.Name, liveText(g.Live), liveText(w.Live))})
		}
	}
	return out
}

func liveText(l *ruleset.Live) string {
	if l == nil {
		return "no (static set)"
	}
	return fmt.Sprintf("timeout %s, size %d, counters %t, source %q", ruleset.DurationText(l.Timeout), l.Size, l.Counters, l.Source)
}
