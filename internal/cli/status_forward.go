package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/termtext"
)

// forwardStatusJSON is one policy's forwarded-traffic subjects in leash
// status: the MACs, source addresses and prefixes, and incoming interfaces
// (names and patterns) the forward chain's maps send to it.
type forwardStatusJSON struct {
	Policy   string   `json:"policy"`
	Subjects []string `json:"subjects"`
}

// forwardSubjects reads the subjects of forwarded traffic from the forward
// base chain's verdict maps of rs, per policy in the order they first
// appear; nil when rs judges no forwarded traffic.
func forwardSubjects(rs *ruleset.Ruleset) []forwardStatusJSON {
	if rs == nil {
		return nil
	}
	var out []forwardStatusJSON
	at := map[string]int{}
	for _, ch := range rs.Chains {
		if ch.Hook == nil || ch.Hook.Hook != "forward" {
			continue
		}
		for _, r := range ch.Rules {
			m := rs.Map(r.Verdict.Map)
			if r.Verdict.Kind != ruleset.VMap || m == nil {
				continue
			}
			for _, e := range m.Entries {
				pol := policyOfChain(rs, e.Chain)
				i, ok := at[pol]
				if !ok {
					i, at[pol] = len(out), len(out)
					out = append(out, forwardStatusJSON{Policy: pol})
				}
				out[i].Subjects = append(out[i].Subjects, subjectText(e.Values))
			}
		}
	}
	return out
}

// policyOfChain is the policy a policy chain belongs to (its rules'
// origin), or the chain's name.
func policyOfChain(rs *ruleset.Ruleset, name string) string {
	if ch := rs.Chain(name); ch != nil {
		for _, r := range ch.Rules {
			if r.Origin.Policy != "" {
				return r.Origin.Policy
			}
		}
	}
	return name
}

// subjectText is a map key as written in a policy: a MAC or an interface
// name as is, a one-address prefix as the address.
func subjectText(vs []ruleset.KeyValue) string {
	var parts []string
	for _, v := range vs {
		switch {
		case v.Text != "":
			parts = append(parts, v.Text)
		case v.Prefix.IsValid() && v.Prefix.IsSingleIP():
			parts = append(parts, v.Prefix.Addr().String())
		case v.Prefix.IsValid():
			parts = append(parts, v.Prefix.String())
		default:
			parts = append(parts, fmt.Sprint(v.Range))
		}
	}
	return strings.Join(parts, " . ")
}

func printForward(w io.Writer, fs []forwardStatusJSON) {
	if len(fs) == 0 {
		return
	}
	fmt.Fprintln(w, "\nforwarded traffic (policy: the hosts and interfaces it judges):")
	for _, f := range fs {
		subj := make([]string, len(f.Subjects))
		for i, s := range f.Subjects {
			subj[i] = termtext.Field(s)
		}
		fmt.Fprintf(w, "  %s: %s\n", termtext.Field(f.Policy), strings.Join(subj, ", "))
	}
}
