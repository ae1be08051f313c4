package policy

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fuzzMaxTime bounds one Load of a fuzz input (a few KB): far above the
// milliseconds it takes, low enough to catch runaway parsing.
const fuzzMaxTime = 2 * time.Second

// FuzzLoad checks that no input makes Parse or Resolve panic or run away,
// and that every failure is a non-empty ErrorList whose every error is at a
// position inside the input and renders as one FILE:LINE:COL: message line.
// Seeds: the examples, the good and bad corpus. (internal/compile's
// FuzzCompile takes successful loads on to the compiler.)
func FuzzLoad(f *testing.F) {
	for _, pattern := range []string{"../../examples/*.yaml", "testdata/*/*.yaml"} {
		seeds, _ := filepath.Glob(pattern)
		for _, s := range seeds {
			if src, err := os.ReadFile(s); err == nil {
				f.Add(src)
			}
		}
	}
	f.Add([]byte("version: 1\npolicies:\n  - {name: a, users: [1], default: deny, rules: [{allow: {to: [fd00::1]}}]}\n"))
	env := testEnv()
	f.Fuzz(func(t *testing.T, src []byte) {
		start := time.Now()
		res, err := Load(context.Background(), "f.yaml", src, env)
		if d := time.Since(start); d > fuzzMaxTime {
			t.Fatalf("Load took %v on %d bytes", d, len(src))
		}
		if err == nil {
			if res == nil {
				t.Fatal("nil Resolved without error")
			}
			return
		}
		list, ok := err.(ErrorList)
		if !ok || len(list) == 0 {
			t.Fatalf("error %T %v is not a non-empty ErrorList", err, err)
		}
		checkPositions(t, "f.yaml", src, list)
	})
}
