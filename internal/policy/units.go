package policy

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"go4.org/netipx"

	"github.com/leash-dev/leash/internal/cgroups"
	"github.com/leash-dev/leash/internal/identity"
	"github.com/leash-dev/leash/internal/ruleset"
)

// CgroupSubject is one cgroup a policy governs (`units:` or `cgroups:`),
// matched with every cgroup below it.
type CgroupSubject struct {
	// Path is relative to the cgroup2 mount (cgroups.CleanPath).
	Path string `json:"path"`
	// Unit is the systemd unit the path stands for ("" for a `cgroups:`
	// entry).
	Unit string `json:"unit,omitempty"`
	Pos  Pos    `json:"pos"`
}

// stringList is list for entries that must be strings (units, cgroups).
func (p *parser) stringList(n ast.Node, what, hint string) []*Scalar {
	var out []*Scalar
	for _, s := range p.list(n, what, hint) {
		if s.Kind != KindString {
			p.errorf(s.Pos, "%s: %s is not a name; write it as a string, e.g. %s", what, s.Raw, hint)
			continue
		}
		out = append(out, s)
	}
	return out
}

// cgroupSubjects resolves a policy's units and cgroups to cgroup paths:
// a unit by systemd's naming convention (cgroups.UnitPaths), a cgroup
// path as written (relative to the cgroup2 mount, leading slash or not).
func (rv *resolver) cgroupSubjects(pd *PolicyDecl, pol *ResolvedPolicy) {
	for _, u := range pd.Units {
		paths, err := cgroups.UnitPaths(u.Value)
		if err != nil {
			rv.errorf(u.Pos, "policy %q: units: %v, e.g. nginx.service", pol.Name, err)
			continue
		}
		for _, p := range paths {
			pol.Cgroups = append(pol.Cgroups, CgroupSubject{Path: p, Unit: u.Value, Pos: u.Pos})
		}
	}
	for _, c := range pd.Cgroups {
		p, ok := cgroups.CleanPath(c.Value)
		if !ok || p != strings.Trim(c.Value, "/") {
			fix := "write a path below the cgroup2 mount such as system.slice/backup.service"
			if ok {
				fix = "write " + p
			}
			rv.errorf(c.Pos, "policy %q: cgroups: %q is not a clean cgroup path; %s", pol.Name, c.Value, fix)
			continue
		}
		if cgroups.Level(p) > 31 {
			rv.errorf(c.Pos, "policy %q: cgroups: %q is %d levels deep, at most 31 are supported", pol.Name, c.Value, cgroups.Level(p))
			continue
		}
		pol.Cgroups = append(pol.Cgroups, CgroupSubject{Path: p, Pos: c.Pos})
	}
}

// cgroupClaims reports a cgroup path governed twice: at the later entry,
// naming the earlier (a unit's socket path included).
func (rv *resolver) cgroupClaims(pols []*ResolvedPolicy) {
	type first struct {
		pol string
		pos Pos
	}
	seen := map[string]first{}
	for _, p := range pols {
		for _, c := range p.Cgroups {
			if f, dup := seen[c.Path]; dup {
				if f.pol != p.Name || f.pos != c.Pos {
					rv.errorf(c.Pos, "policy %q: cgroup %s is already governed by policy %q (line %d); a cgroup belongs to one policy: remove one of them", p.Name, c.Path, f.pol, f.pos.Line)
				}
				continue
			}
			seen[c.Path] = first{p.Name, c.Pos}
		}
	}
}

// CgroupPlan is the plan of r's cgroup subjects (cgroups.NewPlan), in
// policy order.
func (r *Resolved) CgroupPlan() *cgroups.Plan {
	var gs []cgroups.Governed
	for _, p := range r.Policies {
		for _, c := range p.Cgroups {
			gs = append(gs, cgroups.Governed{Path: c.Path, Policy: p.Name})
		}
	}
	return cgroups.NewPlan(gs)
}

// scanCgroups records the ids of the cgroups r's plan classifies, read
// from t, in r.Cgroups (nil t: none, so every governed cgroup starts
// unclassified and is held until the daemon classifies it). A tree that
// cannot be read is a warning, with the same effect.
func scanCgroups(r *Resolved, t cgroups.Tree) {
	plan := r.CgroupPlan()
	if plan.Empty() || t == nil {
		return
	}
	snap, err := cgroups.Scan(t, plan)
	if err != nil {
		r.Warnings = append(r.Warnings, fmt.Sprintf("the cgroup tree could not be read (%v): governed cgroups are held until the daemon classifies them", err))
		return
	}
	r.Cgroups = snap
}

// cgroupLint warns where the precedence of programs over users hides a
// rule: a program's policy replaces the policy of the user it runs as
// (docs/policy.md), so a deny or reject of a user policy does not apply
// to the programs of a policy that allows some of what it denies.
func cgroupLint(r *Resolved) []Warning {
	var ws []Warning
	for _, p := range r.Policies {
		if len(p.Cgroups) == 0 {
			continue
		}
		for _, q := range r.Policies {
			if q == p || len(q.UIDs)+len(q.GIDs)+len(q.MemberUIDs) == 0 && !q.Everyone {
				continue
			}
			if d := hiddenDeny(p, q); d != nil {
				ws = append(ws, Warning{Pos: p.Cgroups[0].Pos,
					Message: fmt.Sprintf("policy %s judges its programs instead of the policies of the users they run as: rule r%d of policy %s (%s) does not apply to them, and %s allows some of what it denies",
						p.Name, d.Index, q.Name, d.Text, p.Name),
					Fix: fmt.Sprintf("copy the rule into policy %s if it must hold for its programs too", p.Name)})
				break
			}
		}
	}
	return ws
}

// hiddenDeny is the first deny or reject rule of q that p allows some
// of (by a rule or its default), or nil.
func hiddenDeny(p, q *ResolvedPolicy) *ResolvedRule {
	for _, d := range q.Rules {
		if d.Action == Allow {
			continue
		}
		if p.Default == Allow {
			return d
		}
		for _, a := range p.Rules {
			if a.Action == Allow && rulesOverlap(a, d) {
				return d
			}
		}
	}
	return nil
}

// rulesOverlap reports whether some connection matches both a and b.
func rulesOverlap(a, b *ResolvedRule) bool {
	return destsOverlap(a.To, b.To) && protosOverlap(a.Protos, b.Protos)
}

func destsOverlap(a, b *Destinations) bool {
	if a == nil || b == nil {
		return true
	}
	return prefixesOverlap(a.V4, b.V4) || prefixesOverlap(a.V6, b.V6)
}

// prefixesOverlap walks two sorted, disjoint prefix lists together.
func prefixesOverlap(a, b []netip.Prefix) bool {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		ra, rb := netipx.RangeOfPrefix(a[i]), netipx.RangeOfPrefix(b[j])
		switch {
		case ra.To().Less(rb.From()):
			i++
		case rb.To().Less(ra.From()):
			j++
		default:
			return true
		}
	}
	return false
}

func protosOverlap(a, b []ProtoSpec) bool {
	if a == nil || b == nil {
		return true
	}
	for _, x := range a {
		for _, y := range b {
			if x.Proto == y.Proto && rangesOverlap(x.Ports, y.Ports) && rangesOverlap(x.Types, y.Types) {
				return true
			}
		}
	}
	return false
}

func rangesOverlap(a, b []ruleset.Range) bool {
	if a == nil || b == nil {
		return true
	}
	for _, x := range a {
		for _, y := range b {
			if x.Lo <= y.Hi && y.Lo <= x.Hi {
				return true
			}
		}
	}
	return false
}

// CgroupPlanOf is the cgroup plan of a policy file's text (Resolved.CgroupPlan)
// without resolving anything else: no users, services or DNS, so the
// daemon and `leash run` can read it from a stored generation cheaply.
// Errors are those of the file's shape and of its units and cgroups
// entries.
func CgroupPlanOf(file string, src []byte) (*cgroups.Plan, error) {
	f, err := Parse(file, src)
	if err != nil {
		return nil, err
	}
	rv := listResolver(f)
	r := &Resolved{File: f.Name}
	for _, pd := range f.Policies {
		pol := &ResolvedPolicy{}
		if pd.Name != nil {
			pol.Name = pd.Name.Value
		}
		rv.cgroupSubjects(pd, pol)
		r.Policies = append(r.Policies, pol)
	}
	rv.cgroupClaims(r.Policies)
	if err := rv.errs.err(); err != nil {
		return nil, err
	}
	return r.CgroupPlan(), nil
}

// programIdentity is the identity of a test case run as a program
// (`as: {unit: U}` or `{cgroup: P}`, with the user's keys as usual, root
// without them).
func programIdentity(dir *identity.Directory, a *AsDecl) (Identity, error) {
	var path, what string
	if a.Unit != nil {
		paths, err := cgroups.UnitPaths(a.Unit.Value)
		if err != nil {
			return Identity{}, fmt.Errorf("as: unit: %w", err)
		}
		path, what = paths[0], a.Unit.Value
	} else {
		p, ok := cgroups.CleanPath(a.Cgroup.Value)
		if !ok {
			return Identity{}, fmt.Errorf("as: cgroup %q is not a path below the cgroup2 mount", a.Cgroup.Value)
		}
		path, what = p, "cgroup "+p
	}
	id := Identity{Name: "root", Desc: "root"}
	if who := (AsDecl{User: a.User, UID: a.UID, GID: a.GID, Group: a.Group}); who.User != nil || who.UID != nil || who.Group != nil {
		var err error
		if id, err = identityOf(dir, &who); err != nil {
			return Identity{}, err
		}
	}
	id.Cgroup = path
	id.Desc = fmt.Sprintf("%s as %s", what, id.Desc)
	return id, nil
}

// RootCgroups moves r's governed cgroups below prefix (a path below the
// cgroup2 mount) and reads their ids again from t: how `leash test` gives
// a policy's programs a private copy of their cgroups in the real tree
// (levels shift by the prefix's depth; the dispatch is the same).
func (r *Resolved) RootCgroups(prefix string, t cgroups.Tree) {
	for _, p := range r.Policies {
		for i := range p.Cgroups {
			p.Cgroups[i].Path = prefix + "/" + p.Cgroups[i].Path
		}
	}
	r.Cgroups = nil
	scanCgroups(r, t)
}
