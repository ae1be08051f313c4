package compile

import (
	"fmt"
	"strings"

	"github.com/leash-dev/leash/internal/policy"
)

// Warning is something in a valid policy the admin should look at; it
// does not stop validate, plan or apply. Render it as
// "Pos: warning: Message" and then Fix.
type Warning struct {
	Pos     policy.Pos `json:"pos"`
	Policy  string     `json:"policy"`
	Rule    int        `json:"rule"` // 1-based rule number within the policy
	Message string     `json:"message"`
	Fix     string     `json:"fix"`
}

// String is "FILE:LINE:COL: warning: MESSAGE; FIX".
func (w Warning) String() string {
	return fmt.Sprintf("%s: warning: %s; %s", w.Pos, w.Message, w.Fix)
}

// maxNamed is how many deciding rules a dead-rule warning names.
const maxNamed = 3

// deadRules reports the rules of p that can never match: every atom of
// the rule lost all its entries to earlier rules (firstmatch.go). Rules
// with an atom that keeps its own kernel rule (wide port ranges, no
// condition at all) are not judged, so a warning is never wrong, but a
// dead rule of that kind is not reported.
func deadRules(p *policy.ResolvedPolicy, atoms []*atom, won map[*atom]bool) []Warning {
	byRule := map[*policy.ResolvedRule][]*atom{}
	for _, a := range atoms {
		byRule[a.rule] = append(byRule[a.rule], a)
	}
	var out []Warning
	for _, r := range p.Rules {
		as := byRule[r]
		if len(as) == 0 || !allLost(as, won) {
			continue
		}
		deciders := earlierOverlapping(r, as, atoms)
		out = append(out, Warning{
			Pos: r.Pos, Policy: p.Name, Rule: r.Index,
			Message: fmt.Sprintf("rule r%d of policy %q can never match: %s every connection it matches",
				r.Index, p.Name, deciders),
			Fix: "remove it, or move it above the rules that shadow it if it should decide first",
		})
	}
	return out
}

func allLost(as []*atom, won map[*atom]bool) bool {
	for _, a := range as {
		if a.classic || won[a] {
			return false
		}
	}
	return true
}

// earlierOverlapping names the earlier rules whose atoms overlap r's, as
// the subject of "decide": "rule r1 already decides", "rules r1, r2 already decide".
func earlierOverlapping(r *policy.ResolvedRule, as, atoms []*atom) string {
	var names []string
	seen := map[int]bool{}
	for _, e := range atoms {
		if e.rule.Index >= r.Index || seen[e.rule.Index] {
			continue
		}
		for _, a := range as {
			if !disjoint(a, e) {
				seen[e.rule.Index] = true
				names = append(names, fmt.Sprintf("r%d", e.rule.Index))
				break
			}
		}
	}
	switch {
	case len(names) == 0:
		return "earlier rules already decide"
	case len(names) == 1:
		return "rule " + names[0] + " already decides"
	case len(names) > maxNamed:
		names = append(names[:maxNamed], fmt.Sprintf("%d more", len(names)-maxNamed))
	}
	return "rules " + strings.Join(names, ", ") + " already decide"
}
