package ruleset_test

import (
	"testing"

	"github.com/leash-dev/leash/bench/benchpolicy"
	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/ruleset"
)

// BenchmarkValidateShapes validates the compiled rulesets of issue 16's
// large policy files (bench/benchpolicy.Shapes), compiled once outside the
// timer.
func BenchmarkValidateShapes(b *testing.B) {
	for _, s := range benchpolicy.Shapes() {
		b.Run(s.Name, func(b *testing.B) {
			r, err := s.Load()
			if err != nil {
				b.Fatal(err)
			}
			rs := compile.Compile(r)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := ruleset.Validate(rs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
