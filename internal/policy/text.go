package policy

import "strings"

// Text renders the rule on one line in YAML flow style, e.g.
// `allow: {to: [mail.example.com], ports: [25/tcp, 143/tcp]}`. A rule with
// neither to nor ports renders as `deny: {}`.
func (r *RuleDecl) Text() string {
	var parts []string
	if len(r.To) > 0 {
		parts = append(parts, "to: "+flowList(r.To))
	}
	if len(r.Ports) > 0 {
		parts = append(parts, "ports: "+flowList(r.Ports))
	}
	if r.Log != nil {
		parts = append(parts, "log: "+r.Log.Raw)
	}
	if len(r.Via) > 0 {
		parts = append(parts, "via: "+flowList(r.Via))
	}
	if r.When != nil {
		parts = append(parts, r.When.Text())
	}
	if r.Limit != nil {
		parts = append(parts, r.Limit.Text())
	}
	return string(r.Action) + ": {" + strings.Join(parts, ", ") + "}"
}

// flowList renders scalars as a YAML flow sequence.
func flowList(list []*Scalar) string {
	raw := make([]string, len(list))
	for i, s := range list {
		raw[i] = s.Raw
	}
	return "[" + strings.Join(raw, ", ") + "]"
}
