package policy

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad checks that no input makes Parse or Resolve panic, and that every
// failure is a non-empty ErrorList with positions.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*/*.yaml")
	for _, s := range seeds {
		if src, err := os.ReadFile(s); err == nil {
			f.Add(src)
		}
	}
	f.Add([]byte("version: 1\npolicies:\n  - {name: a, users: [1], default: deny, rules: [{allow: {to: [fd00::1]}}]}\n"))
	env := testEnv()
	f.Fuzz(func(t *testing.T, src []byte) {
		res, err := Load(context.Background(), "f.yaml", src, env)
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
		for _, e := range list {
			if e.Pos.Line < 1 || e.Pos.Col < 1 {
				t.Fatalf("error without position: %v", e)
			}
		}
	})
}
