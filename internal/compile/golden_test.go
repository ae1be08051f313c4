package compile_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/policy/policytest"
	"github.com/leash-dev/leash/internal/ruleset"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestGoldenExamples compiles every policy in examples/ with the fixture
// environment and compares the nft text with testdata/NAME.nft.
func TestGoldenExamples(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples found: %v", err)
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run(name, func(t *testing.T) {
			rs := compileFile(t, path)
			if err := ruleset.Validate(rs); err != nil {
				t.Fatalf("compiled ruleset is inconsistent: %v", err)
			}
			got := ruleset.Text(rs, ruleset.TextOptions{Sources: true})
			golden := filepath.Join("testdata", name+".nft")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/compile -update)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("compiled %s differs from %s (-want +got):\n%s", path, golden, diff)
			}
		})
	}
}

// TestDeterministic: compiling twice gives the same text.
func TestDeterministic(t *testing.T) {
	a := ruleset.Text(compileFile(t, "../../examples/combined.yaml"), ruleset.TextOptions{Sources: true})
	b := ruleset.Text(compileFile(t, "../../examples/combined.yaml"), ruleset.TextOptions{Sources: true})
	if a != b {
		t.Error("two compilations of the same policy differ")
	}
}

func compileFile(t *testing.T, path string) *ruleset.Ruleset {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	res, err := policy.Load(context.Background(), "examples/"+filepath.Base(path), src, policytest.Env(policytest.DefaultIDs))
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	return compile.Compile(res)
}
