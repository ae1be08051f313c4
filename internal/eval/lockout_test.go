package eval_test

import (
	"context"
	"strings"
	"testing"

	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/eval"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/policy/policytest"
)

func TestLockoutRisks(t *testing.T) {
	const ssh = "198.51.100.7 50022 192.0.2.10 22"
	for _, tc := range []struct {
		name string
		src  string
		want []string // substrings, in order
	}{
		{name: "root not restricted", src: "version: 1\npolicies:\n  - name: web\n    users: [apache]\n    default: deny\n"},
		{name: "everyone denied, root included", src: "version: 1\npolicies:\n  - name: all\n    everyone: true\n    default: deny\n",
			want: []string{"root (uid 0) may not open new connections", "denied by all/default"}},
		{name: "everyone denied, replies too", src: "version: 1\npolicies:\n  - name: all\n    everyone: true\n    established: deny\n    default: deny\n",
			want: []string{"root (uid 0) may not open new connections", "the SSH session you run leash from (client 198.51.100.7:50022) would be cut"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := policy.Load(context.Background(), "p.yaml", []byte(tc.src), policytest.Env(policytest.DefaultIDs))
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(eval.LockoutRisks(compile.Compile(r), ssh), "\n")
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("risks %q lack %q", got, w)
				}
			}
			if len(tc.want) == 0 && got != "" {
				t.Errorf("risks = %q, want none", got)
			}
		})
	}
}
