package policy

import (
	"fmt"
	"slices"

	"github.com/goccy/go-yaml/ast"
)

// policyKeys are the keys of a policy.
func policyKeys() []string {
	return []string{"name", "users", "groups", "everyone", "units", "cgroups", "rules", "default", "loopback", "established", "log", "hosts", "interfaces", "when"}
}

// policies converts the `policies` list.
func (p *parser) policies(fl field) []*PolicyDecl {
	seq, ok := fl.value.(*ast.SequenceNode)
	switch {
	case ok && len(seq.Values) == 0:
		p.errorf(fl.keyPos, "policies is an empty list: a file needs at least one policy, e.g. `- {name: web, users: [apache], default: deny}`")
		return nil
	case !ok:
		if !p.unsupported(fl.value) {
			p.errorf(fl.keyPos, "policies must be a non-empty list of policies (- name: ...); got %s", describe(fl.value))
		}
		return nil
	}
	decls := make([]*PolicyDecl, len(seq.Values))
	p.inParts(len(seq.Values), func(q *parser, i int) { decls[i] = q.policy(seq.Values[i], i+1) })
	var out []*PolicyDecl
	for _, pol := range decls {
		if pol != nil {
			out = append(out, pol)
		}
	}
	return out
}

// minParallelPolicies is the number of policies from which they are
// converted in parallel (inParts).
const minParallelPolicies = 64

// inParts calls each(q, i) for i in [0, n), in order, with q = p; from
// minParallelPolicies on, in runs of consecutive i (inRuns), each with a
// parser of its own whose errors and warnings are then added to p's in
// order: the same messages in the same order as one run. each must only
// touch the parser it is given and its own i.
func (p *parser) inParts(n int, each func(q *parser, i int)) {
	runs := runsFor(n, minParallelPolicies)
	parts := []*parser{p}
	if runs > 1 {
		parts = make([]*parser, runs)
		for w := range parts {
			parts[w] = &parser{file: p.file, lineLens: p.lineLens}
		}
	}
	inRuns(runs, n, func(w, lo, hi int) {
		for i := lo; i < hi; i++ {
			each(parts[w], i)
		}
	})
	if runs == 1 {
		return
	}
	for _, q := range parts {
		p.errs = append(p.errs, q.errs...)
		p.warns = append(p.warns, q.warns...)
	}
}

// policy converts one policy mapping; n is its 1-based index.
func (p *parser) policy(item ast.Node, n int) *PolicyDecl {
	what := fmt.Sprintf("policy #%d", n)
	if name := peekName(item); name != "" {
		what = fmt.Sprintf("policy %q", name)
	}
	fields, ok := p.mapping(item, what, policyKeys())
	if !ok {
		return nil
	}
	pol := &PolicyDecl{Pos: p.pos(item)}
	if f, ok := find(fields, "name"); ok {
		pol.Name = p.policyName(f)
	} else {
		p.errorf(pol.Pos, "%s: missing required key \"name\"", what)
	}
	subjectErr := false
	for _, f := range fields {
		before := len(p.errs)
		p.policyField(pol, f, what)
		subjectErr = subjectErr || len(p.errs) > before && slices.Contains([]string{"users", "groups", "everyone", "hosts", "interfaces", "units", "cgroups"}, f.key)
	}
	everyone := pol.Everyone != nil && pol.Everyone.Value == "true"
	if !subjectErr && !everyone && len(pol.Users) == 0 && len(pol.Groups) == 0 && len(pol.Hosts) == 0 && len(pol.Interfaces) == 0 && len(pol.Units) == 0 && len(pol.Cgroups) == 0 {
		p.errorf(pol.Pos, "%s applies to nobody; add users:, groups:, units:, cgroups: or everyone: true", what)
	}
	if !has(fields, "default") {
		p.errorf(pol.Pos, "%s: missing required key \"default\"; add `default: allow`, `default: deny` or `default: reject`", what)
	}
	return pol
}

// policyField converts one key of a policy other than name.
func (p *parser) policyField(pol *PolicyDecl, f field, what string) {
	switch f.key {
	case "users":
		pol.Users = p.subjectList(f.value, what+": users", "[apache, 1001, 2000-2999]", "user", "uid")
	case "groups":
		pol.Groups = p.subjectList(f.value, what+": groups", "[supporters, 1500]", "group", "gid")
	case "everyone":
		s := p.scalar(f.value, what+": everyone")
		if s != nil && s.Kind != KindBool {
			p.errorf(s.Pos, "%s: everyone must be true or false; got %s", what, s.Raw)
			s = nil
		}
		pol.Everyone = s
	case "units":
		pol.Units = p.stringList(f.value, what+": units", "[nginx.service]")
	case "cgroups":
		pol.Cgroups = p.stringList(f.value, what+": cgroups", "[leash/ci]")
	case "rules":
		pol.Rules = p.rules(f, what)
	case "default":
		pol.Default = p.word(f.value, what+": default", []string{"allow", "deny", "reject"})
	case "loopback":
		pol.Loopback = p.loopback(f, what+": loopback")
	case "established":
		pol.Established = p.word(f.value, what+": established", []string{"allow", "deny"})
	case "log":
		pol.Log = p.logFlag(f.value, what+": log")
	case "hosts":
		pol.Hosts = p.forwardList(f.value, what+": hosts", "[192.168.1.20, 192.168.1.0/24, \"02:00:00:00:00:01\"]")
	case "interfaces":
		pol.Interfaces = p.forwardList(f.value, what+": interfaces", "[br-lan, \"veth*\"]")
	case "when":
		pol.When = p.when(f, what)
	}
}

// peekName returns the policy name written in the mapping item, or "".
func peekName(item ast.Node) string {
	m, ok := item.(*ast.MappingNode)
	if !ok {
		return ""
	}
	for _, mv := range m.Values {
		k, kok := mv.Key.(*ast.StringNode)
		v, vok := mv.Value.(*ast.StringNode)
		if kok && vok && k.Value == "name" {
			return v.Value
		}
	}
	return ""
}

// find returns the field named key.
func find(fields []field, key string) (field, bool) {
	for _, f := range fields {
		if f.key == key {
			return f, true
		}
	}
	return field{}, false
}

// policyName checks a policy's name.
func (p *parser) policyName(f field) *Scalar {
	s := p.scalar(f.value, "name")
	if s == nil {
		return nil
	}
	if s.Kind == KindNull || !nameRE().MatchString(s.Value) {
		p.errorf(s.Pos, "bad policy name %s: use 1-32 lower-case letters, digits, - and _, starting with a letter or digit", s.Raw)
		return nil
	}
	return s
}

// rules converts a policy's `rules` list.
func (p *parser) rules(f field, what string) []*RuleDecl {
	if isNull(f.value) || p.unsupported(f.value) {
		return nil
	}
	seq, ok := f.value.(*ast.SequenceNode)
	if !ok {
		p.errorf(p.pos(f.value), "%s: rules must be a list, e.g. `- allow: {to: [lan]}`; got %s", what, describe(f.value))
		return nil
	}
	var out []*RuleDecl
	for i, item := range seq.Values {
		if r := p.rule(item, fmt.Sprintf("%s, rule %d", what, i+1)); r != nil {
			out = append(out, r)
		}
	}
	return out
}

// actions are the rule keys.
func actions() []string { return []string{"allow", "deny", "reject"} }

// ruleKeys are the keys of a rule's body.
func ruleKeys() []string { return []string{"to", "ports", "log", "via", "when", "limit"} }

// rule converts one rule: a mapping with exactly one action key.
func (p *parser) rule(item ast.Node, what string) *RuleDecl {
	if _, isMap := item.(*ast.MappingNode); !isMap {
		if _, isMV := item.(*ast.MappingValueNode); !isMV && !p.unsupported(item) {
			p.errorf(p.pos(item), "%s: a rule is a mapping such as `- deny: {to: [lan]}`; got %s", what, describe(item))
			return nil
		}
	}
	fields, ok := p.mapping(item, what, actions())
	if ok && len(fields) == 0 {
		p.warnf(p.pos(item), "write an action (- deny: {to: [lan]}) or remove the line", "%s is empty and does nothing", what)
	}
	if !ok || len(fields) == 0 {
		return nil
	}
	for _, extra := range fields[1:] {
		p.errorf(extra.keyPos, "%s: a rule has exactly one action, but %q follows %q; split it into two rules", what, extra.key, fields[0].key)
	}
	act := fields[0]
	r := &RuleDecl{Pos: act.keyPos, Action: Action(act.key)}
	if isNull(act.value) {
		return r
	}
	body, ok := p.mapping(act.value, what+": "+act.key, ruleKeys())
	if !ok {
		return r
	}
	for _, bf := range body {
		switch bf.key {
		case "to":
			r.To = p.destinationList(bf.value, what+": to")
			r.ToPos = bf.keyPos
		case "ports":
			r.Ports, r.PortsPos = p.list(bf.value, what+": ports", "[443/tcp, 53]"), bf.keyPos
		case "log":
			r.Log = p.logFlag(bf.value, what+": log")
		case "via":
			r.Via, r.ViaPos = p.forwardList(bf.value, what+": via", "[wg0]"), bf.keyPos
		case "when":
			r.When = p.when(bf, what)
		case "limit":
			r.Limit = p.limit(bf, what)
		}
	}
	return r
}

// destinationList converts a list of destinations, which must be strings.
func (p *parser) destinationList(n ast.Node, what string) []*Scalar {
	list := p.list(n, what, "[lan, mail.example.com]")
	return slices.DeleteFunc(list, func(s *Scalar) bool {
		if s.Kind == KindString {
			return false
		}
		p.errorf(s.Pos, "%s: %s is not a destination; write an address, a CIDR, a list name or a hostname", what, s.Raw)
		return true
	})
}
