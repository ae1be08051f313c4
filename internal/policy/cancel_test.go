package policy_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/leash-dev/leash/bench/benchpolicy"
	"github.com/leash-dev/leash/internal/identity"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/services"
)

// TestLoadCancelled: Load of a large file (50 policies x 1,000 rules,
// seconds of work) stops with an error wrapping context.Canceled, whether
// the context is cancelled before it starts or while it runs, and gives
// no result.
func TestLoadCancelled(t *testing.T) {
	src := benchpolicy.ManyRules{Policies: 50, Rules: 1000}.YAML()
	env := policy.Env{Directory: &identity.Directory{}, Services: services.New()}
	for _, tc := range []struct {
		name  string
		after time.Duration // cancel after this long; 0: before Load starts
	}{
		{name: "before", after: 0},
		{name: "during", after: 20 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.after == 0 {
				cancel()
			} else {
				time.AfterFunc(tc.after, cancel)
			}
			r, err := policy.Load(ctx, "big.yaml", src, env)
			if !errors.Is(err, context.Canceled) || r != nil {
				t.Fatalf("Load = %v, %v; want nil and an error wrapping context.Canceled", r, err)
			}
			var list policy.ErrorList
			if errors.As(err, &list) {
				t.Errorf("cancellation reported as policy errors: %v", err)
			}
		})
	}
}
