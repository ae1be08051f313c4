package policy

import (
	"slices"
	"strings"

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
	isRange = isRange && numberShaped(lo) && numberShaped(hi)
	numeric := isRange || numberShaped(s.Value)
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
		rv.errorf(s.Pos, "unknown user %q; check the name (getent passwd %s) or write a numeric uid", s.Value, s.Value)
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
	v, err := parseDecimal(text)
	if spelling(err) {
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
	numeric := numberShaped(s.Value)
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
		rv.errorf(s.Pos, "unknown group %q; check the name (getent group %s) or write a numeric gid", s.Value, s.Value)
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
}

// claims detects subjects claimed by two policies and duplicate names.
type claims struct {
	uids, gids []claim
	everyone   *claim
	names      map[string]Pos
}

func newClaims() *claims { return &claims{names: map[string]Pos{}} }

// check reports what pol (declared as pd) claims that an earlier policy
// already claimed, then records pol's claims.
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
	c.uids = c.checkIDs(sink, pol.Name, "uid", "users", c.uids, users)
	c.gids = c.checkIDs(sink, pol.Name, "gid", "groups", c.gids, groups)
}

// checkIDs reports every claim in mine that overlaps one in earlier and
// returns earlier extended by mine.
func (c *claims) checkIDs(sink *errorSink, name, what, key string, earlier, mine []claim) []claim {
	for _, m := range mine {
		for _, e := range earlier {
			if o, ok := overlap(m.r, e.r); ok {
				sink.errorf(m.pos, "policy %q: %s %s is already in the %s of policy %q (line %d); a %s may belong to one policy's %s only",
					name, what, o.String(), key, e.policy, e.pos.Line, what, key)
				break
			}
		}
	}
	return append(earlier, mine...)
}
