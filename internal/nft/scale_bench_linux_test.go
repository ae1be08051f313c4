package nft

import (
	"fmt"
	"os/exec"
	"sort"
	"testing"
	"time"

	"github.com/leash-dev/leash/bench/benchpolicy"
	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/ruleset"
)

// compiledShape loads and compiles a bench/benchpolicy shape.
func compiledShape(b *testing.B, s benchpolicy.Shape) *ruleset.Ruleset {
	b.Helper()
	r, err := s.Load()
	if err != nil {
		b.Fatal(err)
	}
	return compile.Compile(r)
}

// BenchmarkReadAddrs reads back (Read, what `leash status` and `show` do)
// a policy whose one rule denies 1,000,000 (and 100,000) addresses, paired
// in every round with `nft list table inet leash` of the same table (run
// in the same namespace right after). It reports the median ratio
// read/nft-list over the rounds as read/nft.
func BenchmarkReadAddrs(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(benchName("addrs", n), func(b *testing.B) {
			ns, c := newNS(b)
			rs := compiledShape(b, benchpolicy.Shape{YAML: benchpolicy.OneRule{Addrs: n}.YAML})
			if err := c.Apply(rs); err != nil {
				b.Fatal(err)
			}
			var ratios []float64
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				start := time.Now()
				got, err := c.Read()
				if err != nil {
					b.Fatal(err)
				}
				read := time.Since(start)
				b.StopTimer()
				if got == nil || len(got.Sets) == 0 {
					b.Fatal("read back no sets")
				}
				start = time.Now()
				if out, err := exec.Command("ip", "netns", "exec", ns.Name, "nft", "list", "table", "inet", "leash").Output(); err != nil || len(out) == 0 {
					b.Fatalf("nft list: %v", err)
				}
				ratios = append(ratios, read.Seconds()/time.Since(start).Seconds())
				b.StartTimer()
			}
			sort.Float64s(ratios)
			b.ReportMetric(ratios[len(ratios)/2], "read/nft")
		})
	}
}

// BenchmarkApplyShapes applies (replaces) the compiled rulesets of issue
// 16's large policy files, compiled outside the timer: what `leash apply`
// does after compiling, and `leash restore` with the stored ruleset.
func BenchmarkApplyShapes(b *testing.B) {
	for _, s := range benchpolicy.Shapes() {
		b.Run(s.Name, func(b *testing.B) {
			_, c := newNS(b)
			rs := compiledShape(b, s)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := c.Apply(rs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func benchName(what string, n int) string { return fmt.Sprintf("%s=%d", what, n) }
