package eval_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/leash-dev/leash/internal/eval"
	"github.com/leash-dev/leash/internal/ruleset"
)

// TestCgroupVerdictMap: `socket cgroupv2 level 2 vmap @cgmap2` sends a
// socket to the chain of its level-2 ancestor's element, and lets one
// without an element, without an ancestor at level 2, or without a full
// socket go on. An orphan (a closed socket still draining) has no owner but
// is a full socket: its cgroup still dispatches it.
func TestCgroupVerdictMap(t *testing.T) {
	m := &ruleset.Set{Name: "cgmap2", Kind: ruleset.KindCgroup, Live: &ruleset.Live{Source: "cgroups:governed:2", Verdicts: true}}
	m.SetElements([]ruleset.Element{{Cgroup: 20, ElementState: ruleset.ElementState{Chain: "p_web"}}, {Cgroup: 30, ElementState: ruleset.ElementState{Chain: "p_db"}}})
	rs := &ruleset.Ruleset{
		Sets: []*ruleset.Set{m},
		Chains: []*ruleset.Chain{
			{Name: "output", Hook: &ruleset.Hook{Hook: "output"}, Rules: []*ruleset.Rule{
				{Verdict: ruleset.Verdict{Kind: ruleset.VMap, Map: "cgmap2", Level: 2}, Origin: ruleset.Origin{ID: "dispatch/cgroups"}},
			}},
			{Name: "p_web", Rules: []*ruleset.Rule{{Verdict: ruleset.Verdict{Kind: ruleset.Drop}, Origin: ruleset.Origin{ID: "web"}}}},
			{Name: "p_db", Rules: []*ruleset.Rule{{Verdict: ruleset.Verdict{Kind: ruleset.RejectAdmin}, Origin: ruleset.Origin{ID: "db"}}}},
		},
	}
	if err := ruleset.Validate(rs); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		pkt    eval.Packet
		want   ruleset.VerdictKind
		inPath string
	}{
		{"web's cgroup", eval.Packet{Owned: true, Cgroup: []uint64{1, 10, 20, 21}}, ruleset.Drop, "p_web"},
		{"db's cgroup", eval.Packet{Owned: true, Cgroup: []uint64{1, 10, 30}}, ruleset.RejectAdmin, "p_db"},
		{"no element", eval.Packet{Owned: true, Cgroup: []uint64{1, 10, 40}}, ruleset.Accept, ""},
		{"above level 2", eval.Packet{Owned: true, Cgroup: []uint64{1, 10}}, ruleset.Accept, ""},
		{"no full socket", eval.Packet{Cgroup: []uint64{1, 10, 20}}, ruleset.Accept, ""},
		{"orphan of web's socket", eval.Packet{Orphan: true, Cgroup: []uint64{1, 10, 20}}, ruleset.Drop, "p_web"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := eval.Evaluate(rs, tt.pkt)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, res.Verdict.Kind); diff != "" {
				t.Errorf("verdict (-want +got):\n%s", diff)
			}
			if tt.inPath != "" && res.Chain != tt.inPath {
				t.Errorf("decided in chain %q, want %q (path %v)", res.Chain, tt.inPath, res.Path)
			}
		})
	}
}
