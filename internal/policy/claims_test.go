package policy

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/leash-dev/leash/internal/ruleset"
)

// TestReportOverlapsMatchesPairwise: the sweep reports exactly what the
// pairwise check (every claim against every claim of earlier policies,
// first in file order wins) reports, on random claims.
func TestReportOverlapsMatchesPairwise(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	for round := range 300 {
		var all []claim
		policies := 1 + rng.IntN(6)
		for p := range policies {
			for range rng.IntN(5) {
				lo := uint32(rng.IntN(40))
				if rng.IntN(8) == 0 {
					lo = maxID - uint32(rng.IntN(3))
				}
				hi := lo + uint32(rng.IntN(6))*uint32(rng.IntN(2))
				hi = min(hi, maxID)
				all = append(all, claim{r: ruleset.Range{Lo: lo, Hi: hi}, pos: Pos{Line: len(all) + 1}, policy: fmt.Sprint("p", p), seq: p})
			}
		}
		var got, want errorSink
		reportOverlaps(&got, "uid", "users", all)
		pairwise(&want, all)
		if diff := cmp.Diff(want.errs, got.errs); diff != "" {
			t.Fatalf("round %d, claims %+v: (-pairwise +sweep)\n%s", round, all, diff)
		}
	}
}

// pairwise is the quadratic definition reportOverlaps implements.
func pairwise(sink *errorSink, all []claim) {
	for _, m := range all {
		for _, e := range all {
			if e.seq >= m.seq {
				break
			}
			if o, ok := overlap(m.r, e.r); ok {
				sink.errorf(m.pos, "policy %q: uid %s is already in the users of policy %q (line %d); a uid may belong to one policy's users only",
					m.policy, o.String(), e.policy, e.pos.Line)
				break
			}
		}
	}
}
