package nft

import (
	"fmt"

	"github.com/google/nftables/expr"
	"github.com/leash-dev/leash/internal/ruleset"
)

// matchCgroup is `socket cgroupv2 level N [!=] @SET` (ruleset.MatchCgroup):
// the socket expression loads the 8-byte id of the socket cgroup's
// ancestor at level N (host byte order, as the set's keys) and breaks the
// rule when there is none; the lookup is inverted for Not.
func matchCgroup(m ruleset.Match, sets setRef) ([]expr.Any, error) {
	si, ok := sets(m.Set)
	if !ok {
		return nil, fmt.Errorf("match %s: set %q does not exist", m.Kind, m.Set)
	}
	if si.kind != ruleset.KindCgroup {
		return nil, fmt.Errorf("match %s: set %q has kind %s", m.Kind, m.Set, si.kind)
	}
	return []expr.Any{
		&expr.Socket{Key: expr.SocketKeyCgroupv2, Level: m.Level, Register: reg},
		&expr.Lookup{SourceRegister: reg, SetName: m.Set, SetID: si.id, Invert: m.Not},
	}, nil
}

// guessCgroup proposes the MatchCgroup that starts with socket expression
// e (decodeMatch confirms it by re-encoding).
func guessCgroup(e *expr.Socket, ex []expr.Any) (ruleset.Match, bool) {
	if e.Key != expr.SocketKeyCgroupv2 || len(ex) < 2 {
		return ruleset.Match{}, false
	}
	l, ok := ex[1].(*expr.Lookup)
	if !ok {
		return ruleset.Match{}, false
	}
	return ruleset.Match{Kind: ruleset.MatchCgroup, Level: e.Level, Set: l.SetName, Not: l.Invert}, true
}

// cgroupVerdictMap is `socket cgroupv2 level N vmap @M` (a VMap verdict
// on a live verdict map, ruleset.Live.Verdicts): the socket expression
// loads the id of the ancestor at level N (none: the rule breaks, the
// packet goes on), the lookup's verdict register takes the element's
// `jump CHAIN` (no element: no verdict, the packet goes on).
func cgroupVerdictMap(v ruleset.Verdict, si setInfo) ([]expr.Any, error) {
	if si.kind != ruleset.KindCgroup {
		return nil, fmt.Errorf("vmap: live map %q has key kind %s", v.Map, si.kind)
	}
	return []expr.Any{
		&expr.Socket{Key: expr.SocketKeyCgroupv2, Level: v.Level, Register: reg},
		&expr.Lookup{SourceRegister: reg, DestRegister: 0, IsDestRegSet: true, SetName: v.Map, SetID: si.id},
	}, nil
}

// guessCgroupVerdictMap proposes the cgroup VMap verdict that ex, the
// expressions after the counter, look like (decodeVerdict confirms it).
func guessCgroupVerdictMap(e *expr.Socket, ex []expr.Any) (ruleset.Verdict, bool) {
	if e.Key != expr.SocketKeyCgroupv2 || len(ex) != 2 {
		return ruleset.Verdict{}, false
	}
	l, ok := ex[1].(*expr.Lookup)
	if !ok || !l.IsDestRegSet {
		return ruleset.Verdict{}, false
	}
	return ruleset.Verdict{Kind: ruleset.VMap, Map: l.SetName, Level: e.Level}, true
}
