package policy_test

import (
	"context"
	"testing"

	"github.com/leash-dev/leash/bench/benchpolicy"
	"github.com/leash-dev/leash/internal/identity"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/services"
)

// BenchmarkLoadShapes parses and resolves issue 16's large policy files
// (bench/benchpolicy.Shapes: every uid, CIDR and rule written out). The
// files are generated once, outside the timer; no uid needs the user
// database and no hostname needs DNS.
func BenchmarkLoadShapes(b *testing.B) {
	env := policy.Env{Directory: &identity.Directory{}, Services: services.New()}
	for _, s := range benchpolicy.Shapes() {
		b.Run(s.Name, func(b *testing.B) {
			src := s.YAML()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := policy.Load(context.Background(), "bench.yaml", src, env); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
