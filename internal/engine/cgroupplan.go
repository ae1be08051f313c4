package engine

import (
	"github.com/leash-dev/leash/internal/cgroups"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/state"
)

// CgroupPlan is the cgroup plan of generation gen's policy
// (policy.CgroupPlanOf of its stored text). The compiler adds sets of
// cgroup ids exactly when a policy governs cgroups, so for a table without
// them the plan is empty and the policy, which may be megabytes, is not
// parsed.
func CgroupPlan(gen *state.Generation) (*cgroups.Plan, error) {
	if !hasCgroupSets(gen.Ruleset) {
		return cgroups.NewPlan(nil), nil
	}
	return policy.CgroupPlanOf(gen.PolicyFile, gen.Policy)
}

// hasCgroupSets reports whether rs has sets of cgroup ids.
func hasCgroupSets(rs *ruleset.Ruleset) bool {
	if rs == nil {
		return false
	}
	for _, s := range rs.Sets {
		if s.Kind == ruleset.KindCgroup {
			return true
		}
	}
	return false
}
