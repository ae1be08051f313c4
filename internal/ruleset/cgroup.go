package ruleset

import (
	"fmt"
	"slices"
)

// MatchCgroup is `socket cgroupv2 level N @SET` (or `!= @SET` with
// Match.Not): the id of the socket's cgroup ancestor at level N (the
// cgroup2 root is level 0, `system.slice` level 1,
// `system.slice/nginx.service` level 2) is (is not) in SET, a KindCgroup
// set. The socket's cgroup is the one its creator was in when it created
// the socket. The match does not hold when the packet has no full socket,
// or when the socket's cgroup is above level N (the kernel has no ancestor
// at that level to load): so `!= @SET` holds only for sockets at level N
// or below whose ancestor there is not in SET.
const MatchCgroup MatchKind = "cgroup"

// MaxCgroupLevel bounds Match.Level: far deeper than any real hierarchy
// (systemd's deepest is about 6), and what `leash check` can explain.
const MaxCgroupLevel = 32

// cgroupMatchText is the nft text of a MatchCgroup.
func cgroupMatchText(m Match) string {
	op := ""
	if m.Not {
		op = "!= "
	}
	return fmt.Sprintf("socket cgroupv2 level %d %s@%s", m.Level, op, m.Set)
}

// validateCgroupMatch checks a MatchCgroup: a level from 1 to
// MaxCgroupLevel and a cgroup set; no mask or value.
func validateCgroupMatch(rs Lookup, m Match) error {
	switch {
	case m.Level < 1 || m.Level > MaxCgroupLevel:
		return fmt.Errorf("match cgroup: level %d, want 1 to %d", m.Level, MaxCgroupLevel)
	case m.Mask != 0 || m.Value != 0:
		return fmt.Errorf("match cgroup: no mask or value")
	}
	return setOfKind(rs, m, KindCgroup)
}

// CgroupIn reports whether a socket whose cgroup has the ancestor ids
// path (path[0] the root, path[L] the ancestor at level L) matches m, a
// MatchCgroup, given the ids in set s: as the kernel does, no ancestor at
// m.Level means no match, whatever Not says.
func CgroupIn(m Match, s *Set, path []uint64) bool {
	if int(m.Level) >= len(path) {
		return false
	}
	_, in := slices.BinarySearch(s.Cgroups, path[m.Level])
	return in != m.Not
}
