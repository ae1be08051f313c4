package compile_test

import (
	"testing"

	"github.com/leash-dev/leash/bench/benchpolicy"
	"github.com/leash-dev/leash/internal/compile"
)

// BenchmarkCompileShapes compiles issue 16's large policy files
// (bench/benchpolicy.Shapes), loaded once outside the timer.
func BenchmarkCompileShapes(b *testing.B) {
	for _, s := range benchpolicy.Shapes() {
		b.Run(s.Name, func(b *testing.B) {
			r, err := s.Load()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				compile.Compile(r)
			}
		})
	}
}
