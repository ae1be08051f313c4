package policy

import "fmt"

// forwardLint checks a policy's forwarded-traffic parts: entries written
// twice in hosts, interfaces and via, and a via that limits nothing (an
// allow rule with via and no denial after it, in a policy whose default
// allows: what leaves elsewhere is allowed anyway).
func forwardLint(pd *PolicyDecl, p *ResolvedPolicy) []Warning {
	ws := append(duplicates("hosts", pd.Hosts), duplicates("interfaces", pd.Interfaces)...)
	for i, rd := range pd.Rules {
		ws = append(ws, duplicates("via", rd.Via)...)
		if len(rd.Via) == 0 || rd.Action != Allow || p.Default != Allow || denialAfter(pd.Rules[i+1:]) {
			continue
		}
		ws = append(ws, Warning{Pos: rd.ViaPos, Message: fmt.Sprintf("policy %s: via limits nothing: no rule after it denies, and the default allows what leaves elsewhere", p.Name),
			Fix: "add a deny for the same destinations below it (without via), or make the default deny or reject"})
	}
	return ws
}

// denialAfter reports whether any of rules denies or rejects.
func denialAfter(rules []*RuleDecl) bool {
	for _, r := range rules {
		if r.Action != Allow {
			return true
		}
	}
	return false
}
