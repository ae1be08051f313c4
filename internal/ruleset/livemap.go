package ruleset

import (
	"fmt"
	"slices"
)

// A live verdict map is a live set with Live.Verdicts: each element is a
// key and the chain it jumps to (ElementState.Chain), added and removed
// while leash runs like any live element, and looked up by a VMap verdict
// whose Map names it. Only cgroup ids are keys for now: the cgroup
// dispatch, one map per level, `socket cgroupv2 level N vmap @M` (Verdict.Level),
// one lookup per packet and level whatever the number of program policies.
// nft equivalent:
//
//	map NAME { type cgroupsv2 : verdict; comment "SOURCE"; }
//	add element inet leash NAME { ID : jump CHAIN }
//
// (nft's text names a cgroupsv2 element by its path; leash loads ids by
// netlink and prints them in a comment, as for a live set.)

// validateLiveMap checks what a verdict map adds to a live set: cgroup id
// keys, no timeouts or counters (a dispatch never expires or counts; its
// rule counts), and valid chain names (that they exist is checked with the
// chains: liveMapTargets).
func validateLiveMap(s *Set) error {
	l := s.Live
	switch {
	case s.Kind != KindCgroup:
		return fmt.Errorf("map %s: a live verdict map is keyed by %s, not %s", s.Name, KindCgroup, s.Kind)
	case l.Timeout > 0 || l.Counters:
		return fmt.Errorf("map %s: a live verdict map has no timeout or counters", s.Name)
	}
	for _, st := range s.State {
		if !ValidName(st.Chain) {
			return fmt.Errorf("map %s: element jumps to %q, not a chain name", s.Name, st.Chain)
		}
	}
	return nil
}

// liveMapTargets checks that every element of live verdict map s jumps to
// a regular chain of the ruleset.
func liveMapTargets(s *Set, chains chainIndex) error {
	if s.Live == nil || !s.Live.Verdicts {
		return nil
	}
	for _, e := range s.Elements() {
		if err := jumpTarget(chains, e.Chain); err != nil {
			return fmt.Errorf("map %s: element %s: jump: %w", s.Name, e.Key(), err)
		}
	}
	return nil
}

// chainWant says what an element's Chain must be in a verdict map or not.
func chainWant(verdicts bool) string {
	if verdicts {
		return "an element of a verdict map needs the chain it jumps to"
	}
	return "an element of a set jumps nowhere (no chain)"
}

// opTarget checks the chain an added verdict map element jumps to: a chain
// name (that the chain exists is the kernel's check, which refuses the
// whole update otherwise; nft.Fake does the same).
func opTarget(_ Lookup, op ElementOp) error {
	if !ValidName(op.Elem.Chain) {
		return fmt.Errorf("%s: %q is not a chain name", op, op.Elem.Chain)
	}
	return nil
}

// elementText is an element in nft syntax: its key, and `: jump CHAIN` in
// a verdict map.
func elementText(e Element) string {
	if e.Chain != "" {
		return e.Key() + " : jump " + e.Chain
	}
	return e.Key()
}

// liveMapVerdict checks a VMap verdict on a live verdict map: a
// cgroup-keyed map and a level (`socket cgroupv2 level N vmap @M`).
func liveMapVerdict(s *Set, v Verdict) error {
	switch {
	case s.Live == nil || !s.Live.Verdicts:
		return fmt.Errorf("vmap: %s is a set, not a map", v.Map)
	case v.Level < 1 || v.Level > MaxCgroupLevel:
		return fmt.Errorf("vmap @%s: level %d, want 1 to %d", v.Map, v.Level, MaxCgroupLevel)
	}
	return nil
}

// liveMapText is the key and lookup of a VMap verdict on a live map.
func liveMapText(v Verdict) string {
	return fmt.Sprintf("socket cgroupv2 level %d vmap @%s", v.Level, v.Map)
}

// CgroupJump is the chain `socket cgroupv2 level N vmap @M` (v, on live
// verdict map s) jumps to for a socket whose cgroup has the ancestor ids
// path (path[L] the ancestor at level L), "" when none: as the kernel
// does, no ancestor at v.Level or no element for its id means no verdict.
func CgroupJump(v Verdict, s *Set, path []uint64) string {
	if int(v.Level) >= len(path) {
		return ""
	}
	if i, in := slices.BinarySearch(s.Cgroups, path[v.Level]); in && i < len(s.State) {
		return s.State[i].Chain
	}
	return ""
}
