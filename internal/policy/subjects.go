package policy

import (
	"cmp"
	"container/heap"
	"slices"
	"strings"

	"github.com/leash-dev/leash/internal/decimal"
	"github.com/leash-dev/leash/internal/ruleset"
)

// maxID is the largest valid uid or gid; 4294967295 is (uid_t)-1.
const maxID = 1<<32 - 2

// subjects resolves a policy's users, groups and everyone. It returns what
// each users and groups entry claims, for conflict checks.
func (rv *resolver) subjects(pd *PolicyDecl, pol *ResolvedPolicy) (users, groups []claim) {
	var uids []ruleset.Range
	for _, s := range pd.Users {
		if r, ok := rv.user(s); ok {
			uids = append(uids, r)
			users = append(users, claim{r: r, pos: s.Pos, policy: pol.Name})
		}
	}
	pol.UIDs = mergeRanges(uids)
	var members []uint32
	for _, s := range pd.Groups {
		if gid, ok := rv.group(s); ok {
			pol.GIDs = append(pol.GIDs, gid)
			members = append(members, rv.env.Directory.MemberUIDs(gid)...)
			groups = append(groups, claim{r: ruleset.Range{Lo: gid, Hi: gid}, pos: s.Pos, policy: pol.Name})
		}
	}
	slices.Sort(pol.GIDs)
	pol.GIDs = slices.Compact(pol.GIDs)
	slices.Sort(members)
	pol.MemberUIDs = uidsOf(slices.Compact(members))
	pol.Everyone = pd.Everyone != nil && pd.Everyone.Value == "true"
	if pol.Everyone && (len(pd.Users) > 0 || len(pd.Groups) > 0) {
		rv.errorf(pd.Everyone.Pos, "policy %q: everyone: true cannot be combined with users or groups; move them to a separate policy", pol.Name)
	}
	return users, groups
}

// user resolves one `users` entry: a name, a uid or a uid range a-b;
// {user: NAME} is only a name and {uid: N} only a uid or range. A bare entry
// spelled like a number that is also a user's name is refused: it would
// otherwise be read as a uid without a word.
func (rv *resolver) user(s *Scalar) (ruleset.Range, bool) {
	if s.Kind != KindString && s.Kind != KindInt {
		rv.errorf(s.Pos, "users: %s is not a user name, uid or uid range", s.Raw)
		return ruleset.Range{}, false
	}
	lo, hi, isRange := strings.Cut(s.Value, "-")
	isRange = isRange && decimal.Shaped(lo) && decimal.Shaped(hi)
	numeric := isRange || decimal.Shaped(s.Value)
	if s.As == "uid" && !numeric {
		rv.errorf(s.Pos, "users: {uid: %s}: not a uid or uid range; write {user: %s} for a user name", s.Raw, s.Raw)
		return ruleset.Range{}, false
	}
	if u, named := rv.env.Directory.User(s.Value); named && numeric && s.As == "" {
		kind := "uid"
		if isRange {
			kind = "uid range"
		}
		rv.errorf(s.Pos, "users: %s is both a %s and the name of user %s (uid %d); write {uid: %s} for the %s or {user: %q} for the user",
			s.Raw, kind, u.Name, u.UID, s.Value, kind, u.Name)
		return ruleset.Range{}, false
	}
	switch {
	case numeric && s.As != "user" && isRange:
		return rv.idRange(s, lo, hi)
	case numeric && s.As != "user":
		id, ok := rv.id(s, s.Value, "uid")
		return ruleset.Range{Lo: id, Hi: id}, ok
	}
	u, ok := rv.env.Directory.User(s.Value)
	if !ok {
		rv.errorf(s.Pos, "unknown user %q; check the name (getent passwd %s) or write a numeric uid%s", s.Value, s.Value, rv.names.user(rv.env.Directory, s.Value))
		return ruleset.Range{}, false
	}
	return ruleset.Range{Lo: u.UID, Hi: u.UID}, true
}

// idRange parses a uid range lo-hi.
func (rv *resolver) idRange(s *Scalar, lo, hi string) (ruleset.Range, bool) {
	a, okA := rv.id(s, lo, "uid")
	b, okB := rv.id(s, hi, "uid")
	if !okA || !okB {
		return ruleset.Range{}, false
	}
	if a > b {
		rv.errorf(s.Pos, "uid range %s is reversed; write %d-%d", s.Value, b, a)
		return ruleset.Range{}, false
	}
	return ruleset.Range{Lo: a, Hi: b}, true
}

// id parses a decimal uid or gid.
func (rv *resolver) id(s *Scalar, text, what string) (uint32, bool) {
	v, err := decimal.Parse(text)
	if decimal.Spelling(err) {
		rv.errorf(s.Pos, "%s %s: %v", what, text, err)
		return 0, false
	}
	if err != nil || v > maxID {
		rv.errorf(s.Pos, "%s %s is out of range; ids go from 0 to %d", what, text, uint64(maxID))
		return 0, false
	}
	return uint32(v), true
}

// group resolves one `groups` entry: a name or a gid; {group: NAME} is
// only a name and {gid: N} only a gid. A bare entry spelled like a number
// that is also a group's name is refused, as for users.
func (rv *resolver) group(s *Scalar) (uint32, bool) {
	if s.Kind != KindString && s.Kind != KindInt {
		rv.errorf(s.Pos, "groups: %s is not a group name or gid", s.Raw)
		return 0, false
	}
	numeric := decimal.Shaped(s.Value)
	if s.As == "gid" && !numeric {
		rv.errorf(s.Pos, "groups: {gid: %s}: not a gid; write {group: %s} for a group name", s.Raw, s.Raw)
		return 0, false
	}
	if g, named := rv.env.Directory.Group(s.Value); named && numeric && s.As == "" {
		rv.errorf(s.Pos, "groups: %s is both a gid and the name of group %s (gid %d); write {gid: %s} for the gid or {group: %q} for the group",
			s.Raw, g.Name, g.GID, s.Value, g.Name)
		return 0, false
	}
	if numeric && s.As != "group" {
		return rv.id(s, s.Value, "gid")
	}
	g, ok := rv.env.Directory.Group(s.Value)
	if !ok {
		rv.errorf(s.Pos, "unknown group %q; check the name (getent group %s) or write a numeric gid%s", s.Value, s.Value, rv.names.group(rv.env.Directory, s.Value))
		return 0, false
	}
	return g.GID, true
}

// isDigits reports whether s is a non-empty string of ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// claim is a subject (uid range, gid or everyone) taken by a policy.
type claim struct {
	r      ruleset.Range
	pos    Pos
	policy string
	seq    int // ordinal of the policy in the file
}

// claims detects subjects claimed by two policies and duplicate names.
type claims struct {
	uids, gids []claim // in file order
	everyone   *claim
	names      map[string]Pos
	policies   int // policies checked so far
}

func newClaims() *claims { return &claims{names: map[string]Pos{}} }

// check reports pol's (declared as pd) duplicate name or second everyone,
// and records the ids its users and groups entries claim; finish reports
// the ids an earlier policy already claimed.
func (c *claims) check(sink *errorSink, pd *PolicyDecl, pol *ResolvedPolicy, users, groups []claim) {
	if pd.Name != nil {
		if first, dup := c.names[pol.Name]; dup {
			sink.errorf(pd.Name.Pos, "duplicate policy name %q; the first one is at line %d", pol.Name, first.Line)
		} else {
			c.names[pol.Name] = pd.Name.Pos
		}
	}
	if pol.Everyone {
		if c.everyone != nil {
			sink.errorf(pd.Everyone.Pos, "policy %q: only one policy may have everyone: true, and policy %q (line %d) already has it", pol.Name, c.everyone.policy, c.everyone.pos.Line)
		} else {
			c.everyone = &claim{pos: pd.Everyone.Pos, policy: pol.Name}
		}
	}
	c.uids = appendClaims(c.uids, users, c.policies)
	c.gids = appendClaims(c.gids, groups, c.policies)
	c.policies++
}

func appendClaims(to, cs []claim, seq int) []claim {
	for _, m := range cs {
		m.seq = seq
		to = append(to, m)
	}
	return to
}

// finish reports every uid or gid claim that overlaps a claim of an earlier
// policy, naming the first such claim in file order.
func (c *claims) finish(sink *errorSink) {
	reportOverlaps(sink, "uid", "users", c.uids)
	reportOverlaps(sink, "gid", "groups", c.gids)
}

// reportOverlaps reports, for every claim of all (in file order), the first
// claim of an earlier policy that overlaps it, in O(n log n): the id space
// is painted with the first claim covering each id (firstOwners), and the
// first claim overlapping m is the smallest owner of the pieces m overlaps
// (a range-minimum query). If that owner belongs to m's policy or a later
// one, no earlier policy claims any of m's ids.
func reportOverlaps(sink *errorSink, what, key string, all []claim) {
	if len(all) < 2 {
		return
	}
	pieces := firstOwners(all)
	owners := make([]int, len(pieces))
	for i, p := range pieces {
		owners[i] = p.owner
	}
	rmq := newMinTree(owners)
	for _, m := range all {
		lo, _ := slices.BinarySearchFunc(pieces, m.r.Lo, func(p piece, v uint32) int { return cmp.Compare(p.r.Hi, v) })
		hi, _ := slices.BinarySearchFunc(pieces, m.r.Hi, func(p piece, v uint32) int { return cmp.Compare(p.r.Lo, v+1) })
		if lo >= hi { // cannot happen: m covers its own ids
			continue
		}
		e := all[rmq.min(lo, hi)]
		if e.seq >= m.seq {
			continue
		}
		o, _ := overlap(m.r, e.r)
		sink.errorf(m.pos, "policy %q: %s %s is already in the %s of policy %q (line %d); a %s may belong to one policy's %s only",
			m.policy, what, o.String(), key, e.policy, e.pos.Line, what, key)
	}
}

// piece is a maximal run of ids whose first claim (in file order) is owner,
// an index into the claims.
type piece struct {
	r     ruleset.Range
	owner int
}

// firstOwners paints the ids of all claims with the index of the first claim
// covering them and returns the painted runs, sorted and disjoint: a sweep
// over the claims by start, with the claims covering the current id in a
// heap ordered by index.
func firstOwners(all []claim) []piece {
	order := make([]int, len(all))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(all[a].r.Lo, all[b].r.Lo) })
	active := &claimHeap{}
	var out []piece
	next := 0
	cur := uint64(all[order[0]].r.Lo) // first id not painted yet
	for {
		for active.Len() > 0 && uint64(all[active.top()].r.Hi) < cur {
			heap.Pop(active)
		}
		if active.Len() == 0 {
			if next == len(order) {
				return out
			}
			cur = max(cur, uint64(all[order[next]].r.Lo))
		}
		for next < len(order) && uint64(all[order[next]].r.Lo) <= cur {
			heap.Push(active, order[next])
			next++
		}
		if active.Len() == 0 || uint64(all[active.top()].r.Hi) < cur {
			continue
		}
		owner := active.top()
		end := uint64(all[owner].r.Hi) // the owner stays first until it ends or a claim starts
		if next < len(order) {
			end = min(end, uint64(all[order[next]].r.Lo)-1)
		}
		if n := len(out); n > 0 && out[n-1].owner == owner && uint64(out[n-1].r.Hi)+1 == cur {
			out[n-1].r.Hi = uint32(end)
		} else {
			out = append(out, piece{r: ruleset.Range{Lo: uint32(cur), Hi: uint32(end)}, owner: owner})
		}
		cur = end + 1
	}
}

// claimHeap is a min-heap of claim indices.
type claimHeap []int

func (h claimHeap) Len() int           { return len(h) }
func (h claimHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h claimHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *claimHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *claimHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
func (h claimHeap) top() int { return h[0] }

// minTree answers "smallest value in v[lo:hi]" in O(log n): an iterative
// segment tree.
type minTree struct {
	n int
	t []int
}

func newMinTree(v []int) *minTree {
	n := len(v)
	t := make([]int, 2*n)
	copy(t[n:], v)
	for i := n - 1; i > 0; i-- {
		t[i] = min(t[2*i], t[2*i+1])
	}
	return &minTree{n: n, t: t}
}

// min is the smallest of v[lo:hi]; hi > lo.
func (m *minTree) min(lo, hi int) int {
	best := int(^uint(0) >> 1)
	for lo, hi = lo+m.n, hi+m.n; lo < hi; lo, hi = lo/2, hi/2 {
		if lo&1 == 1 {
			best = min(best, m.t[lo])
			lo++
		}
		if hi&1 == 1 {
			hi--
			best = min(best, m.t[hi])
		}
	}
	return best
}
