package policy

import (
	"runtime"
	"sync"
)

// Large files are loaded in parallel runs: the fast reader's long
// sequences (fastYAML.parallelSequence), the walk of many policies
// (parser.inParts) and the resolving of a policy's many rules
// (resolver.rules). Each run works on consecutive items with state of its
// own, and the caller joins the runs' results in order, so that the
// outcome is the one of a single run.

// maxRuns bounds the runs of one parallel step.
const maxRuns = 8

// runsFor is the number of runs to split n items into: one per CPU (at
// most maxRuns), or 1 below minItems items or on one CPU.
func runsFor(n, minItems int) int {
	if n < minItems {
		return 1
	}
	return max(1, min(runtime.GOMAXPROCS(0), maxRuns))
}

// inRuns calls each(w, lo, hi) for the runs w of [0, n) in order of w,
// [lo, hi) consecutive and together all of [0, n), concurrently when runs
// is more than 1, and returns once every call has.
func inRuns(runs, n int, each func(w, lo, hi int)) {
	if runs <= 1 {
		each(0, 0, n)
		return
	}
	var wg sync.WaitGroup
	for w := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			each(w, w*n/runs, (w+1)*n/runs)
		}()
	}
	wg.Wait()
}
