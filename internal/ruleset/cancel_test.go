package ruleset

import (
	"context"
	"errors"
	"testing"
)

// countdown is a context that is cancelled after its Err has been asked
// n times.
type countdown struct {
	context.Context
	n int
}

func (c *countdown) Err() error {
	if c.n--; c.n < 0 {
		return context.Canceled
	}
	return nil
}

// TestValidateCancelled: ValidateContext of a large ruleset stops with an
// error wrapping context.Canceled when the context is done, and looks at
// it more than once on the way (so it stops in the middle, not at the end).
func TestValidateCancelled(t *testing.T) {
	rs := &Ruleset{Chains: []*Chain{{Name: "c"}}}
	for range 10 * cancelEvery {
		rs.Chains[0].Rules = append(rs.Chains[0].Rules, &Rule{Verdict: Verdict{Kind: Accept}, Origin: Origin{ID: "r"}})
	}
	if err := ValidateContext(context.Background(), rs); err != nil {
		t.Fatalf("ValidateContext with a live context: %v", err)
	}
	ctx := &countdown{context.Background(), 3}
	if err := ValidateContext(ctx, rs); !errors.Is(err, context.Canceled) {
		t.Fatalf("ValidateContext = %v, want context.Canceled", err)
	}
	if ctx.n != -1 {
		t.Errorf("ValidateContext looked at the context %d times after it was done, want it to stop at once", -1-ctx.n)
	}
}
