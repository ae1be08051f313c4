package benchpolicy

import (
	"context"
	"fmt"

	"github.com/leash-dev/leash/internal/identity"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/services"
)

// Shape is one of the YAML shapes, named for benchmark output.
type Shape struct {
	Name string
	YAML func() []byte
}

// Shapes are issue 16's load cases: 100,000 listed uids over 1,000
// policies plus 100,000 /24s in 100 rules; 50 and 200 policies of 1,000
// rules each.
func Shapes() []Shape {
	users := ListedUsers{Users: 100_000, Policies: 1000, Rules: 100, PerRule: 1000}
	return []Shape{
		{fmt.Sprintf("uids=%d/policies=%d/cidrs=%d", users.Users, users.Policies, users.Rules*users.PerRule), users.YAML},
		{"policies=50/rules=1000", ManyRules{Policies: 50, Rules: 1000}.YAML},
		{"policies=200/rules=1000", ManyRules{Policies: 200, Rules: 1000}.YAML},
	}
}

// Load parses and resolves a shape's YAML without a user database or DNS
// (every uid is numeric, every destination an address).
func (s Shape) Load() (*policy.Resolved, error) {
	env := policy.Env{Directory: &identity.Directory{}, Services: services.New()}
	return policy.Load(context.Background(), "bench.yaml", s.YAML(), env)
}

// Shape names s for benchmarks and tests.
func (s ManyRules) Shape() Shape {
	return Shape{Name: fmt.Sprintf("policies=%d/rules=%d", s.Policies, s.Rules), YAML: s.YAML}
}
