package compile

import (
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
)

// dispatch builds the base chain and the uid and gid verdict maps.
//
// Precedence (docs/policy.md): the first policy that names the socket's uid
// in `users`, else the first whose groups contain the uid as a member, else
// the first that names the socket's gid in `groups`, else the everyone
// policy, else accept. Group membership is expanded to uids because the
// kernel's skgid is the socket's fsgid only, never the supplementary groups.
func (c *compiler) dispatch(r *policy.Resolved, everyone *policy.ResolvedPolicy) {
	out := &ruleset.Chain{Name: ChainOutput, Hook: &ruleset.Hook{Hook: "output", Priority: 0}}
	out.Rules = append(out.Rules, c.cgroupDispatch(r)...) // programs before their users (cgroups.go)
	out.Rules = append(out.Rules, c.vmaps(ruleset.KindUID, MapUsers, MapUserRanges, uidEntries(r.Policies),
		ruleset.Origin{ID: "dispatch/users", What: "dispatch", Text: "users and group members -> their policy"})...)
	out.Rules = append(out.Rules, c.vmaps(ruleset.KindGID, MapGroups, MapGroupRanges, gidEntries(r.Policies),
		ruleset.Origin{ID: "dispatch/groups", What: "dispatch", Text: "socket group -> its policy"})...)
	owned := []ruleset.Match{{Kind: ruleset.MatchOwned}}
	if everyone != nil {
		out.Rules = append(out.Rules, &ruleset.Rule{
			Match:   owned,
			Verdict: ruleset.Verdict{Kind: ruleset.Jump, Chain: ChainName(everyone.Name)},
			Origin:  c.origin("dispatch/everyone", everyone.Name, "dispatch", 0, everyone.Pos, "everyone: true"),
		})
	} else {
		out.Rules = append(out.Rules, &ruleset.Rule{
			Match:   owned,
			Verdict: ruleset.Verdict{Kind: ruleset.Accept},
			Origin:  ruleset.Origin{ID: "dispatch/unlisted", What: "dispatch", Text: "users no policy names are not restricted"},
		})
	}
	out.Rules = append(out.Rules, &ruleset.Rule{
		Verdict: ruleset.Verdict{Kind: ruleset.Goto, Chain: ChainUnowned},
		Origin:  ruleset.Origin{ID: "dispatch/unowned", What: "dispatch", Text: "packets without an owning socket"},
	})
	c.output = out
}

// vmaps adds the verdict maps for entries (single ids in a hash map named
// hashName, wide ranges in an interval map named rangeName; layout.go) and
// returns the rules that look them up. The entries are disjoint, so the
// order of the two lookups does not matter.
func (c *compiler) vmaps(key ruleset.SetKind, hashName, rangeName string, entries []ruleset.MapEntry, o ruleset.Origin) []*ruleset.Rule {
	single, wide := splitEntries(entries)
	var rules []*ruleset.Rule
	for _, m := range []*ruleset.Map{
		{Name: hashName, Key: key, Entries: single},
		{Name: rangeName, Key: key, Interval: true, Entries: wide},
	} {
		if len(m.Entries) == 0 {
			continue
		}
		c.rs.Maps = append(c.rs.Maps, m)
		rules = append(rules, &ruleset.Rule{Verdict: ruleset.Verdict{Kind: ruleset.VMap, Map: m.Name}, Origin: o})
	}
	return rules
}

// uidEntries assigns every uid named by a policy to exactly one policy chain:
// direct `users` entries outrank group membership, and earlier policies
// outrank later ones.
func uidEntries(policies []*policy.ResolvedPolicy) []ruleset.MapEntry {
	var segs []segment
	for i, p := range policies {
		for _, r := range p.UIDs {
			segs = append(segs, segment{lo: r.Lo, hi: r.Hi, rank: i, chain: ChainName(p.Name)})
		}
	}
	memberRank := len(policies)
	for i, p := range policies {
		for _, r := range p.MemberUIDs {
			segs = append(segs, segment{lo: r.Lo, hi: r.Hi, rank: memberRank + i, chain: ChainName(p.Name)})
		}
	}
	return assign(segs)
}

// gidEntries maps every gid named in `groups` to the first policy naming it.
func gidEntries(policies []*policy.ResolvedPolicy) []ruleset.MapEntry {
	var segs []segment
	for i, p := range policies {
		for _, g := range p.GIDs {
			segs = append(segs, segment{lo: g, hi: g, rank: i, chain: ChainName(p.Name)})
		}
	}
	return assign(segs)
}
