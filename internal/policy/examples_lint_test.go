package policy_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/policy/policytest"
)

// TestExamplesHaveNoWarnings: the shipped examples say what they mean.
func TestExamplesHaveNoWarnings(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r, err := policy.Load(context.Background(), filepath.Base(f), src, policytest.Env(policytest.DefaultIDs))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, w := range r.Lint {
			t.Errorf("%s", w)
		}
	}
}
