package compile_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/leash-dev/leash/internal/cgroups"
	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/eval"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/policy/policytest"
	"github.com/leash-dev/leash/internal/ruleset"
)

// programPolicies compiles n program policies, p1..pn, each governing
// leash/pI (id 100+I) at level 2 and denying by default, and an everyone
// policy that allows.
func programPolicies(t *testing.T, n int) *ruleset.Ruleset {
	t.Helper()
	var b strings.Builder
	b.WriteString("version: 1\npolicies:\n")
	tree := cgroups.Fake{"": 1, "leash": 20}
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "  - name: p%d\n    cgroups: [leash/p%d]\n    default: deny\n", i, i)
		tree[fmt.Sprintf("leash/p%d", i)] = uint64(100 + i)
	}
	b.WriteString("  - name: others\n    everyone: true\n    default: allow\n")
	env := policytest.Env(policytest.DefaultIDs)
	env.Cgroups = tree
	res, err := policy.Load(context.Background(), "programs.yaml", []byte(b.String()), env)
	if err != nil {
		t.Fatal(err)
	}
	rs := compile.Compile(res)
	if err := ruleset.Validate(rs); err != nil {
		t.Fatalf("compiled ruleset is inconsistent: %v", err)
	}
	return rs
}

// dispatchRules counts the base chain's rules that look up cgroups: the
// dispatch and the holds.
func dispatchRules(rs *ruleset.Ruleset) int {
	n := 0
	for _, c := range rs.Chains {
		if c.Hook == nil {
			continue
		}
		for _, r := range c.Rules {
			if r.Origin.ID == compile.IDCgroupDispatch || r.Origin.ID == compile.IDCgroupUnclassified {
				n++
			}
		}
	}
	return n
}

// TestCgroupDispatchFlat: 1 and 100 program policies at one level give the
// same dispatch rules (one verdict map lookup per level, then the holds),
// and the last of 100 policies still judges its cgroup.
func TestCgroupDispatchFlat(t *testing.T) {
	one, hundred := programPolicies(t, 1), programPolicies(t, 100)
	if a, b := dispatchRules(one), dispatchRules(hundred); a != b || a != 3 {
		t.Errorf("dispatch rules: %d for 1 program policy, %d for 100; want 3 for both", a, b)
	}
	for _, tc := range []struct {
		name   string
		cgroup []uint64
		want   string
	}{
		{"last policy's cgroup", []uint64{1, 20, 200}, "p100/default"},
		{"first policy's cgroup", []uint64{1, 20, 101}, "p1/default"},
		{"unclassified sibling held", []uint64{1, 20, 999}, compile.IDCgroupUnclassified},
		{"elsewhere", []uint64{1, 30}, compile.IDCgroupUnclassified},
	} {
		res, err := eval.Evaluate(hundred, eval.Packet{Owned: true, Cgroup: tc.cgroup,
			Daddr: netip.MustParseAddr("192.0.2.7"), Proto: ruleset.ProtoTCP, Dport: 443})
		if err != nil {
			t.Fatal(err)
		}
		if res.Rule == nil || res.Rule.Origin.ID != tc.want {
			t.Errorf("%s: decided by %+v, want %s", tc.name, res.Rule, tc.want)
		}
	}
}
