package policy

import (
	"fmt"

	"github.com/leash-dev/leash/internal/ruleset"
)

// lint gathers the warnings about a valid file: those Parse and Resolve
// noted on the way (empty rules, service names that open both protocols)
// and the checks that need the whole file: settings that do nothing,
// entries written twice, and users whose own policy hides a group policy
// they belong to. Sorted by position.
func lint(f *File, r *Resolved, noted []Warning) []Warning {
	ws := append(append([]Warning(nil), f.Warnings...), noted...)
	for i, pd := range f.Policies {
		if i >= len(r.Policies) {
			break
		}
		ws = append(ws, policyLint(pd, r.Policies[i])...)
	}
	ws = append(ws, shadowedGroups(f, r)...)
	ws = append(ws, cgroupLint(r)...)
	SortWarnings(ws)
	return ws
}

// policyLint checks one policy: `log: true` on a default that allows, and
// entries written twice in its subjects and rules.
func policyLint(pd *PolicyDecl, p *ResolvedPolicy) []Warning {
	var ws []Warning
	if pd.Log != nil && pd.Log.Value == "true" && p.Default == Allow {
		ws = append(ws, Warning{Pos: pd.Log.Pos, Message: fmt.Sprintf("policy %s: log: true does nothing: its default allows, and only denials are logged", p.Name),
			Fix: "remove it, or make the default deny or reject"})
	}
	ws = append(ws, duplicates("users", pd.Users)...)
	ws = append(ws, duplicates("groups", pd.Groups)...)
	ws = append(ws, forwardLint(pd, p)...) // lint_forward.go
	for _, rd := range pd.Rules {
		ws = append(ws, duplicates("to", rd.To)...)
		ws = append(ws, duplicates("ports", rd.Ports)...)
		if rd.ToPos.Line != 0 && len(rd.To) == 0 {
			ws = append(ws, Warning{Pos: rd.ToPos, Message: "to: [] means any destination, as if it were left out",
				Fix: "remove it, or name the destinations"})
		}
		if rd.PortsPos.Line != 0 && len(rd.Ports) == 0 {
			ws = append(ws, Warning{Pos: rd.PortsPos, Message: "ports: [] means any protocol and port, as if it were left out",
				Fix: "remove it, or name the ports"})
		}
	}
	return ws
}

// duplicates warns about every entry of list written again.
func duplicates(what string, list []*Scalar) []Warning {
	seen := map[string]*Scalar{}
	var ws []Warning
	for _, s := range list {
		key := s.As + ":" + s.Value
		if first, dup := seen[key]; dup {
			ws = append(ws, Warning{Pos: s.Pos, Message: fmt.Sprintf("%s lists %s twice (first at line %d)", what, s.Raw, first.Pos.Line), Fix: "remove one"})
			continue
		}
		seen[key] = s
	}
	return ws
}

// shadowedGroups warns where a policy names users who are also members of
// a group another policy names: a user's own policy judges her alone (the
// first policy that names the user wins over group policies), so the group
// policy's rules never apply to her.
func shadowedGroups(f *File, r *Resolved) []Warning {
	var ws []Warning
	for _, p := range r.Policies {
		if len(p.UIDs) == 0 {
			continue
		}
		for _, g := range r.Policies {
			if g == p || len(g.GIDs) == 0 {
				continue
			}
			uid, n := sharedIDs(p.UIDs, g.MemberUIDs)
			if n == 0 {
				continue
			}
			who := fmt.Sprintf("uid %d", uid)
			if n > 1 {
				who = fmt.Sprintf("uids %d and %d more", uid, n-1)
			}
			ws = append(ws, Warning{Pos: p.Pos,
				Message: fmt.Sprintf("policy %s names %s, also members of the groups of policy %s (line %d): their connections are judged by %s alone, so %s's rules do not apply to them", p.Name, who, g.Name, g.Pos.Line, p.Name, g.Name),
				Fix:     fmt.Sprintf("if they should obey both, give %s the rules of %s too", p.Name, g.Name)})
		}
	}
	return ws
}

// sharedIDs is the smallest id in both sorted, disjoint range lists and how
// many ids they share (capped at the first list's size).
func sharedIDs(a, b []ruleset.Range) (first uint32, n uint64) {
	i, j := 0, 0
	found := false
	for i < len(a) && j < len(b) {
		lo, hi := max(a[i].Lo, b[j].Lo), min(a[i].Hi, b[j].Hi)
		if lo <= hi {
			if !found {
				first, found = lo, true
			}
			n += uint64(hi-lo) + 1
		}
		if a[i].Hi < b[j].Hi {
			i++
		} else {
			j++
		}
	}
	return first, n
}
