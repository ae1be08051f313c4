// Package cgroups is the cgroup v2 tree as leash governs it: which
// cgroups the policies govern and what must be watched so that none of
// their packets escapes (Plan, pure), the ids of the tree's directories
// (Tree: the cgroup2 mount found in /proc/self/mountinfo, ids = inode
// numbers), the systemd unit naming convention (UnitPaths), and the watch
// that reports cgroups appearing and disappearing (Watch, inotify).
//
// The kernel matches a socket by the id of its cgroup's ancestor at a
// level (`socket cgroupv2 level N`), and an id changes every time a
// cgroup is re-created (a unit's restart). So a governed path is never
// compiled to an id alone: every directory on the way to a governed cgroup
// (the root, `system.slice`, ...) is watched, every child of a watched
// directory is classified (its id put in the level's known set), and a
// socket whose ancestor at a level is a child of a watched directory but
// not classified yet is dropped (compile: cgroups/unclassified). A
// restarted service's new cgroup is therefore held until the daemon has
// classified it, never judged as its user for a moment.
package cgroups

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"path"
	"slices"
	"strings"

	"github.com/leash-dev/leash/internal/ruleset"
)

// Governed is one cgroup a policy governs, with everything below it.
type Governed struct {
	// Path is relative to the cgroup2 mount, clean, without a leading or
	// trailing slash, never "" (the root is not governed).
	Path   string
	Policy string
}

// Level is a path's depth: 0 for the root "", 1 for "system.slice", 2 for
// "system.slice/nginx.service" (the `level` of `socket cgroupv2`).
func Level(p string) int {
	if p == "" {
		return 0
	}
	return strings.Count(p, "/") + 1
}

// parent is p's parent path ("" for a top-level cgroup).
func parent(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}

// CleanPath makes a cgroup path as written (`/system.slice/x.service/`)
// relative and clean; ok is false for the root, for `..` and for
// components that cannot be directory names.
func CleanPath(p string) (string, bool) {
	c := strings.Trim(path.Clean("/"+p), "/")
	if c == "" || c == "." || strings.Contains(p, "\x00") {
		return "", false
	}
	for _, part := range strings.Split(c, "/") {
		if part == ".." || part == "." {
			return "", false
		}
	}
	for _, part := range strings.Split(strings.Trim(p, "/"), "/") {
		if part == ".." {
			return "", false
		}
	}
	return c, true
}

// Role is what a plan's set holds.
type Role string

// Roles.
const (
	// Known: the ids of every child, at Level, of a watched directory (the
	// cgroups classified at that level).
	Known Role = "known"
	// Watched: the ids of the watched directories at Level (strict
	// ancestors of governed cgroups), whose children must all be known.
	Watched Role = "watched"
	// Gov: the governed cgroups at Level, a live verdict map: each id
	// jumps to the chain of the policy that governs it.
	Gov Role = "governed"
)

// SetSpec is one live set of cgroup ids of a plan.
type SetSpec struct {
	Name   string
	Source string // the live set's Source: changes when Paths do
	Role   Role
	Level  int
	Policy string   // unused (the Gov map holds every policy's cgroups at Level)
	Paths  []string // Gov: the governed paths; Watched: the watched directories
}

// Plan is what a policy file's cgroup subjects need: the governed paths,
// the watched directories and the live sets.
type Plan struct {
	gov      map[string]string // path -> policy
	watched  map[string]bool   // strict ancestors of governed paths ("" the root)
	maxLevel int
	sets     []SetSpec
	// policies in the order given (the order of the gov sets at a level).
	policies []string
	order    []Governed // as given, without repeats
}

// SetName is the name of a plan's set: `cg2` (known at level 2),
// `cg1_watch` (watched at level 1), `cgmap2` (the verdict map of the
// governed cgroups at level 2, whatever their policy).
func SetName(r Role, level int) string {
	switch r {
	case Watched:
		return fmt.Sprintf("cg%d_watch", level)
	case Gov:
		return fmt.Sprintf("cgmap%d", level)
	}
	return fmt.Sprintf("cg%d", level)
}

// NewPlan makes the plan of gs. A path given twice keeps its first
// policy (policy.Resolve refuses a path claimed by two policies).
func NewPlan(gs []Governed) *Plan {
	p := &Plan{gov: map[string]string{}, watched: map[string]bool{}}
	for _, g := range gs {
		if _, dup := p.gov[g.Path]; dup || g.Path == "" {
			continue
		}
		p.gov[g.Path] = g.Policy
		p.order = append(p.order, g)
		if !slices.Contains(p.policies, g.Policy) {
			p.policies = append(p.policies, g.Policy)
		}
		p.maxLevel = max(p.maxLevel, Level(g.Path))
		for a := parent(g.Path); ; a = parent(a) {
			p.watched[a] = true
			if a == "" {
				break
			}
		}
	}
	for l := 1; l <= p.maxLevel; l++ {
		p.sets = append(p.sets, p.spec(Known, l, nil))
		if w := p.watchedAt(l); len(w) > 0 {
			p.sets = append(p.sets, p.spec(Watched, l, w))
		}
		if paths := p.governedAt(l); len(paths) > 0 {
			p.sets = append(p.sets, p.spec(Gov, l, paths))
		}
	}
	return p
}

func (p *Plan) spec(r Role, level int, paths []string) SetSpec {
	h := fnv.New64a()
	var all []string
	if r == Known {
		all = p.Watched() // what is classified at every level
	} else {
		all = paths
	}
	for _, s := range all {
		h.Write([]byte(s))
		h.Write([]byte{0})
		if r == Gov { // a path moved to another policy is another map
			h.Write([]byte(p.gov[s]))
			h.Write([]byte{0})
		}
	}
	src := fmt.Sprintf("cgroups:%s:%d:%016x", r, level, h.Sum64())
	return SetSpec{Name: SetName(r, level), Source: src, Role: r, Level: level, Paths: paths}
}

// Empty reports whether the plan governs nothing.
func (p *Plan) Empty() bool { return len(p.gov) == 0 }

// MaxLevel is the deepest governed level (0: none).
func (p *Plan) MaxLevel() int { return p.maxLevel }

// Sets are the plan's live sets, by level, then known, watched and the
// policies' in the order given.
func (p *Plan) Sets() []SetSpec { return p.sets }

// Policies are the policies that govern cgroups, in the order given.
func (p *Plan) Policies() []string { return p.policies }

// Watched are the watched directories, sorted ("" the root first).
func (p *Plan) Watched() []string {
	out := make([]string, 0, len(p.watched))
	for w := range p.watched {
		out = append(out, w)
	}
	slices.Sort(out)
	return out
}

func (p *Plan) watchedAt(level int) []string {
	var out []string
	for _, w := range p.Watched() {
		if Level(w) == level {
			out = append(out, w)
		}
	}
	return out
}

func (p *Plan) governedAt(level int) []string {
	var out []string
	for g := range p.gov {
		if Level(g) == level {
			out = append(out, g)
		}
	}
	slices.Sort(out)
	return out
}

// Governs returns the policy that judges a socket in cgroup path c (the
// one governing c's deepest governed ancestor, c itself included) and
// that ancestor's path; "" when none does.
func (p *Plan) Governs(c string) (policy, at string) {
	for a := c; a != ""; a = parent(a) {
		if pol, ok := p.gov[a]; ok {
			return pol, a
		}
	}
	return "", ""
}

// PathsOf are the paths policy governs, in the order given.
func (p *Plan) PathsOf(policy string) []string {
	var out []string
	for _, g := range p.order {
		if g.Policy == policy {
			out = append(out, g.Path)
		}
	}
	return out
}

// Governed lists the governed paths with their policies, sorted by path.
func (p *Plan) Governed() []Governed {
	out := make([]Governed, 0, len(p.gov))
	for g, pol := range p.gov {
		out = append(out, Governed{Path: g, Policy: pol})
	}
	slices.SortFunc(out, func(a, b Governed) int { return cmp.Compare(a.Path, b.Path) })
	return out
}

// Snapshot is the ids of the directories a plan classifies: every watched
// directory and every child of one, by path ("" the root). A directory
// that does not exist is absent.
type Snapshot map[string]uint64

// Elements are the elements each of the plan's sets should hold for snap,
// by set name (every set of the plan has an entry, sorted by id, maybe
// empty): cgroup ids, and in a Gov map the chain of each id's policy
// (chain names a policy's chain: compile.ChainName).
func (p *Plan) Elements(snap Snapshot, chain func(policy string) string) map[string][]ruleset.Element {
	out := make(map[string][]ruleset.Element, len(p.sets))
	for _, s := range p.sets {
		out[s.Name] = nil
	}
	for c, id := range snap {
		for _, s := range p.classify(c) {
			out[s.set] = append(out[s.set], element(id, s.policy, chain))
		}
	}
	for k := range out {
		slices.SortFunc(out[k], func(a, b ruleset.Element) int { return cmp.Compare(a.Cgroup, b.Cgroup) })
		out[k] = slices.CompactFunc(out[k], func(a, b ruleset.Element) bool { return a.Cgroup == b.Cgroup })
	}
	return out
}

// element is id as an element: in a Gov map (policy given), jumping to
// policy's chain.
func element(id uint64, policy string, chain func(string) string) ruleset.Element {
	e := ruleset.Element{Cgroup: id}
	if policy != "" {
		e.Chain = chain(policy)
	}
	return e
}

// placement is one set a cgroup's id belongs in, with the policy it
// jumps to in a Gov map.
type placement struct{ set, policy string }

// classify names the sets that cgroup c's id belongs in: none unless c is
// a child of a watched directory (then the known set of its level), and
// the watched set or governed map of its level when it is one.
func (p *Plan) classify(c string) []placement {
	l := Level(c)
	if c == "" || l > p.maxLevel || !p.watched[parent(c)] {
		return nil
	}
	out := []placement{{set: SetName(Known, l)}}
	if p.watched[c] {
		out = append(out, placement{set: SetName(Watched, l)})
	}
	if pol, ok := p.gov[c]; ok {
		out = append(out, placement{set: SetName(Gov, l), policy: pol})
	}
	return out
}

// Classified reports whether the plan classifies a directory at path c
// (c is watched or a child of a watched directory): the paths a
// Snapshot holds.
func (p *Plan) Classified(c string) bool {
	return p.watched[c] || (c != "" && Level(c) <= p.maxLevel && p.watched[parent(c)])
}

// Hypothetical gives a socket in cgroup c the ids of its ancestors
// (index = level), taking each directory's id from snap where it exists
// and a made-up id (above every real one) where it does not, and returns
// the elements the daemon holds (or adds, once they exist) for them: what
// `leash check --cgroup` judges.
func (p *Plan) Hypothetical(c string, snap Snapshot, chain func(string) string) (ids []uint64, add map[string][]ruleset.Element) {
	ids = []uint64{snap[""]}
	add = map[string][]ruleset.Element{}
	if _, ok := snap[""]; !ok {
		ids[0] = RootID
	}
	if c == "" {
		return ids, add
	}
	parts := strings.Split(c, "/")
	for i := range parts {
		a := strings.Join(parts[:i+1], "/")
		id, ok := snap[a]
		if !ok {
			id = madeUpBase + uint64(i)
		}
		for _, s := range p.classify(a) {
			add[s.set] = append(add[s.set], element(id, s.policy, chain))
		}
		ids = append(ids, id)
	}
	return ids, add
}

// RootID is the id of the cgroup2 root (the root directory's inode).
const RootID = 1

// madeUpBase is where Hypothetical's ids start: kernfs ids are far below.
const madeUpBase = 1 << 62

// RunPath chooses where `leash run --policy NAME` runs a command: the first
// path policy name governs (`cgroups:` and `units:` entries in file
// order). With name "", the policy is the only one that governs cgroups.
func (p *Plan) RunPath(name string) (policy, at string, err error) {
	switch {
	case name == "" && len(p.policies) == 1:
		name = p.policies[0]
	case name == "" && len(p.policies) == 0:
		return "", "", fmt.Errorf("no policy in force governs cgroups: give one cgroups: [PATH] (e.g. leash/ci) to run commands in")
	case name == "":
		return "", "", fmt.Errorf("several policies govern cgroups (%s): say which with --policy NAME", strings.Join(p.policies, ", "))
	}
	paths := p.PathsOf(name)
	if len(paths) == 0 {
		return "", "", fmt.Errorf("policy %q governs no cgroups in the policy in force (policies that do: %s); give it cgroups: [PATH]", name, strings.Join(p.policies, ", "))
	}
	return name, paths[0], nil
}
