package nft

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/leash-dev/leash/internal/ruleset"
)

// cgroupSample is `socket cgroupv2 level N [!=] @SET` as the holds of the
// cgroup dispatch use it (compile/cgroups.go; its verdict maps: cgroupmap_linux_test.go),
// with empty sets: nft's text names cgroupsv2 elements by path.
func cgroupSample() *ruleset.Ruleset {
	live := func(name, src string) *ruleset.Set {
		return &ruleset.Set{Name: name, Kind: ruleset.KindCgroup, Live: &ruleset.Live{Source: src}}
	}
	return &ruleset.Ruleset{
		Sets: []*ruleset.Set{live("cg1", "cgroups:known:1"), live("cg1_watch", "cgroups:watched:1"),
			live("cg2", "cgroups:known:2"), live("cg2_p_web", "cgroups:governed:web:2")},
		Chains: []*ruleset.Chain{
			{Name: "output", Hook: &ruleset.Hook{Hook: "output"}, Rules: []*ruleset.Rule{
				{Match: []ruleset.Match{{Kind: ruleset.MatchCgroup, Level: 2, Set: "cg2_p_web"}},
					Verdict: ruleset.Verdict{Kind: ruleset.Jump, Chain: "p_web"}, Origin: ruleset.Origin{ID: "dispatch/cgroups"}},
				{Match: []ruleset.Match{{Kind: ruleset.MatchCgroup, Level: 2, Set: "cg2", Not: true}, {Kind: ruleset.MatchCgroup, Level: 1, Set: "cg1_watch"}},
					Verdict: ruleset.Verdict{Kind: ruleset.Drop}, Origin: ruleset.Origin{ID: "cgroups/unclassified"}},
				{Match: []ruleset.Match{{Kind: ruleset.MatchCgroup, Level: 1, Set: "cg1", Not: true}},
					Verdict: ruleset.Verdict{Kind: ruleset.Drop}, Origin: ruleset.Origin{ID: "cgroups/unclassified"}},
			}},
			{Name: "p_web", Rules: []*ruleset.Rule{{Verdict: ruleset.Verdict{Kind: ruleset.Drop}, Origin: ruleset.Origin{ID: "web/default"}}}},
		},
	}
}

// TestCgroupTextEquivalence: `socket cgroupv2 level N [!=] @SET` as nft
// -f loads it and as Apply encodes it are the same kernel rules, and both
// decode to the same IR.
func TestCgroupTextEquivalence(t *testing.T) {
	nsA, _ := newNS(t)
	nsB, c := newNS(t)
	rs := cgroupSample()
	if err := ruleset.Validate(rs); err != nil {
		t.Fatal(err)
	}
	inNS(t, nsA, ruleset.Text(rs, ruleset.TextOptions{}), "nft", "-f", "-")
	if err := c.Apply(rs); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(list(t, nsA), list(t, nsB)); diff != "" {
		t.Errorf("nft list (-nft -f +Apply):\n%s", diff)
	}
	wantNL := inNS(t, nsA, "", "nft", "--debug=netlink", "list", "table", "inet", "leash")
	gotNL := inNS(t, nsB, "", "nft", "--debug=netlink", "list", "table", "inet", "leash")
	if diff := cmp.Diff(wantNL, gotNL); diff != "" {
		t.Errorf("nft --debug=netlink list (-nft -f +Apply):\n%s", diff)
	}
	requireReadsBack(t, c, rs, "Read after Apply")
}
