package compile_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/policy/policytest"
	"github.com/leash-dev/leash/internal/ruleset"
)

// FuzzCompile takes any input through the whole front end with the fixture
// environment: parse, resolve, compile. It checks that nothing panics, that
// a rejected input gives a non-empty policy.ErrorList (internal/policy's
// FuzzLoad checks the positions), and that every accepted input compiles to
// a ruleset that ruleset.Validate accepts and Text can print. Seeds: the
// examples and policy's good and bad corpus.
func FuzzCompile(f *testing.F) {
	for _, pattern := range []string{"../../examples/*.yaml", "../policy/testdata/*/*.yaml"} {
		seeds, _ := filepath.Glob(pattern)
		for _, s := range seeds {
			if src, err := os.ReadFile(s); err == nil {
				f.Add(src)
			}
		}
	}
	env := policytest.Env(policytest.DefaultIDs)
	f.Fuzz(func(t *testing.T, src []byte) {
		res, err := policy.Load(context.Background(), "f.yaml", src, env)
		if err != nil {
			var list policy.ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error %T %v is not a non-empty policy.ErrorList", err, err)
			}
			return
		}
		rs := compile.Compile(res)
		if err := ruleset.Validate(rs); err != nil {
			t.Fatalf("compiled ruleset is invalid: %v\npolicy:\n%s", err, src)
		}
		_ = ruleset.Text(rs, ruleset.TextOptions{Counters: true, Sources: true})
	})
}
