package compile_test

import (
	"context"
	"errors"
	"testing"

	"github.com/leash-dev/leash/bench/benchpolicy"
	"github.com/leash-dev/leash/internal/compile"
)

// countdown is a context that is cancelled after its Err has been asked
// n times: it stops a loop in its middle, deterministically.
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

// TestCompileCancelled: CompileContext stops with an error wrapping
// context.Canceled, before the first policy or between two, and returns
// no ruleset; with a live context it is Compile.
func TestCompileCancelled(t *testing.T) {
	r, err := benchpolicy.ManyRules{Policies: 20, Rules: 10}.Shape().Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 5} {
		rs, _, err := compile.CompileContext(&countdown{context.Background(), n}, r)
		if !errors.Is(err, context.Canceled) || rs != nil {
			t.Errorf("cancelled after %d looks: CompileContext = %v, %v; want nil and context.Canceled", n, rs, err)
		}
	}
	if rs, _, err := compile.CompileContext(context.Background(), r); err != nil || len(rs.Chains) != len(compile.Compile(r).Chains) {
		t.Errorf("CompileContext with a live context = %v, %v", rs, err)
	}
}
