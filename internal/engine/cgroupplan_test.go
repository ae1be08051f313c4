package engine

import (
	"testing"

	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/state"
)

// TestCgroupPlanSkipsParsing: a generation whose table has no cgroup sets
// has an empty plan without its policy being parsed (this one would not
// parse); one with cgroup sets has its policy parsed.
func TestCgroupPlanSkipsParsing(t *testing.T) {
	bad := []byte("policies: [\n")
	plain := &state.Generation{Policy: bad, Ruleset: &ruleset.Ruleset{Sets: []*ruleset.Set{{Name: "s", Kind: ruleset.KindIPv4}}}}
	plain.PolicyFile = "p.yaml"
	if p, err := CgroupPlan(plain); err != nil || !p.Empty() {
		t.Errorf("no cgroup sets: plan %v, %v; want empty, no error", p, err)
	}
	governing := &state.Generation{Policy: bad, Ruleset: &ruleset.Ruleset{Sets: []*ruleset.Set{{Name: "cgmap1", Kind: ruleset.KindCgroup}}}}
	governing.PolicyFile = "p.yaml"
	if _, err := CgroupPlan(governing); err == nil {
		t.Errorf("cgroup sets: no error; want the policy parsed (and refused)")
	}
}
