package compile

import (
	"fmt"
	"strings"

	"github.com/leash-dev/leash/internal/cgroups"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
)

// Origin ids of the cgroup dispatch.
const (
	// IDCgroupDispatch is the rule that sends a governed cgroup's sockets
	// to its policy.
	IDCgroupDispatch = "dispatch/cgroups"
	// IDCgroupUnclassified is the rule that holds (drops) the packets of a
	// cgroup below a watched directory that is not classified yet.
	IDCgroupUnclassified = "cgroups/unclassified"
)

// cgroupDispatch returns the rules, first in the base chain, that judge
// the sockets of governed cgroups by their policy, and adds the live sets
// and verdict maps of cgroup ids they look up (cgroups.Plan), holding the
// ids read when the policy was loaded (r.Cgroups). From the deepest
// governed level up, so the most specific governed cgroup wins:
//
//	socket cgroupv2 level 2 vmap @cgmap2
//	socket cgroupv2 level 2 != @cg2 socket cgroupv2 level 1 @cg1_watch drop
//	socket cgroupv2 level 1 != @cg1 drop
//
// cgmap2 holds `ID : jump p_POLICY` for every governed cgroup at level 2,
// whatever its policy. The second and third rules hold every cgroup below
// a watched directory (the root, system.slice: the way to a governed
// cgroup) that the daemon has not classified yet, such as a restarted
// unit's new cgroup: its packets are dropped until its id is in the
// level's known set, so none is judged as its user's meanwhile. Sockets
// directly in a watched directory, and sockets without a full socket,
// match none of these and go on to the users. Per packet: at most three
// lookups per level, whatever the number of cgroups and program policies.
func (c *compiler) cgroupDispatch(r *policy.Resolved) []*ruleset.Rule {
	plan := r.CgroupPlan()
	if plan.Empty() {
		return nil
	}
	elems := plan.Elements(r.Cgroups, ChainName)
	for _, s := range plan.Sets() {
		set := &ruleset.Set{Name: s.Name, Kind: ruleset.KindCgroup, Live: &ruleset.Live{Source: s.Source, Verdicts: s.Role == cgroups.Gov}}
		set.SetElements(elems[s.Name])
		c.rs.Sets = append(c.rs.Sets, set)
	}
	pols := map[string]*policy.ResolvedPolicy{}
	for _, p := range r.Policies {
		pols[p.Name] = p
	}
	var rules []*ruleset.Rule
	for l := plan.MaxLevel(); l >= 1; l-- {
		for _, s := range plan.Sets() {
			if s.Level != l || s.Role != cgroups.Gov {
				continue
			}
			rules = append(rules, &ruleset.Rule{
				Verdict: ruleset.Verdict{Kind: ruleset.VMap, Map: s.Name, Level: uint32(l)},
				Origin:  c.origin(IDCgroupDispatch, "", "dispatch", 0, dispatchPos(plan, pols, s.Paths), cgroupText(plan, s.Paths)),
			})
		}
		m := []ruleset.Match{{Kind: ruleset.MatchCgroup, Level: uint32(l), Set: cgroups.SetName(cgroups.Known, l), Not: true}}
		if l > 1 {
			m = append(m, ruleset.Match{Kind: ruleset.MatchCgroup, Level: uint32(l - 1), Set: cgroups.SetName(cgroups.Watched, l-1)})
		}
		rules = append(rules, &ruleset.Rule{Match: m, Verdict: ruleset.Verdict{Kind: ruleset.Drop},
			Origin: ruleset.Origin{ID: IDCgroupUnclassified, What: "dispatch",
				Text: fmt.Sprintf("a level-%d cgroup on the way to a governed one, not classified yet: held until the daemon has", l)}})
	}
	return rules
}

// dispatchPos is where the policy governing the first of paths names it.
func dispatchPos(plan *cgroups.Plan, pols map[string]*policy.ResolvedPolicy, paths []string) policy.Pos {
	pol, _ := plan.Governs(paths[0])
	p := pols[pol]
	for _, c := range p.Cgroups {
		if c.Path == paths[0] {
			return c.Pos
		}
	}
	return p.Pos
}

// cgroupText is a dispatch rule's explanation: the governed paths with
// their policies, the first few of them.
func cgroupText(plan *cgroups.Plan, paths []string) string {
	const show = 4
	var named []string
	for _, p := range paths[:min(show, len(paths))] {
		pol, _ := plan.Governs(p)
		named = append(named, p+" ("+pol+")")
	}
	if len(paths) > show {
		return fmt.Sprintf("cgroups: [%s, and %d more]", strings.Join(named, ", "), len(paths)-show)
	}
	return "cgroups: [" + strings.Join(named, ", ") + "]"
}
