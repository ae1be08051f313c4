package benchpolicy

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"

	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
)

// RulesSpec is the rule-list shape of issue 16: every policy allows Dests
// IPv4 /24s written as Rules rules (the same /24s whatever Rules is, dealt
// round robin), the measured destinations in the last rule, then denies
// everything else:
//
//   - name: pK
//     users: [100000+2i for every i with i % Policies == K]
//     loopback: rules
//     established: allow
//     rules:
//   - allow: {to: [Dests/Rules /24s]}    # r1 .. rRules
//     default: deny
//
// With zero users the rules form an everyone policy.
type RulesSpec struct {
	Users int
	Rules int // rules per policy, at least 1
	Dests int // /24s over all rules, besides Measured
}

// Measured are the /24s of the destinations the benchmark sends to
// (127.0.0.1 on the loopback path, 203.0.113.9 on the veth path); they are
// in the last rule, so a packet is decided by the last rule of the list.
var Measured = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/24"), netip.MustParsePrefix("203.0.113.0/24")}

// BuildRules returns the resolved policy for s and the user to measure (as
// Build).
func BuildRules(s RulesSpec) (*policy.Resolved, Target) {
	dests := AllowPrefixes(s.Dests)
	lists := make([][]netip.Prefix, max(s.Rules, 1))
	for i, p := range dests {
		lists[i%len(lists)] = append(lists[i%len(lists)], p)
	}
	last := len(lists) - 1
	lists[last] = append(lists[last], Measured...)
	pos := policy.Pos{File: "bench.yaml", Line: 1, Col: 1}
	var rules []*policy.ResolvedRule
	for i, l := range lists {
		slices.SortFunc(l, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
		rules = append(rules, &policy.ResolvedRule{Index: i + 1, Pos: policy.Pos{File: "bench.yaml", Line: 2 + i, Col: 9},
			Action: policy.Allow, Text: fmt.Sprintf("allow: {to: [%d /24s]}", len(l)), To: &policy.Destinations{V4: l}})
	}
	r := &policy.Resolved{File: "bench.yaml", Baseline: policy.Baseline{
		Loopback: policy.Loopback{Mode: policy.LoopbackRules}, Established: true, Unowned: policy.UnownedEveryone}}
	newP := func(name string) *policy.ResolvedPolicy {
		return &policy.ResolvedPolicy{Name: name, Pos: pos, Default: policy.Deny, DefaultPos: pos,
			Loopback: policy.Loopback{Mode: policy.LoopbackRules, Pos: pos}, Established: true, Rules: rules}
	}
	if s.Users == 0 {
		p := newP("everyone")
		p.Everyone = true
		r.Policies = []*policy.ResolvedPolicy{p}
		return r, Target{UID: FirstUID, Policy: p.Name}
	}
	n := min(Policies, s.Users)
	for k := range n {
		r.Policies = append(r.Policies, newP(fmt.Sprintf("p%d", k)))
	}
	for i := range s.Users {
		uid := uint32(FirstUID + 2*i)
		p := r.Policies[i%n]
		p.UIDs = append(p.UIDs, ruleset.Range{Lo: uid, Hi: uid})
	}
	mid := s.Users / 2
	return r, Target{UID: uint32(FirstUID + 2*mid), Policy: r.Policies[mid%n].Name}
}

// AllowPrefixes returns n distinct, non-adjacent IPv4 /24s in
// 11.0.0.0-110.255.255.0 (no two are siblings, so no two merge into a
// /23), pseudo-random with a fixed seed, sorted. n is capped at the
// 3,276,800 even /24 slots of that range.
func AllowPrefixes(n int) []netip.Prefix {
	const first, slots = 11 << 16, 100 << 15 // /24 number of 11.0.0.0; even slots in 100 /8s
	n = min(n, slots)
	rng := rand.New(rand.NewPCG(3, 4))
	seen := make(map[uint32]bool, n)
	out := make([]netip.Prefix, 0, n)
	for len(out) < n {
		s := uint32(rng.IntN(slots))
		if seen[s] {
			continue
		}
		seen[s] = true
		v := (first + 2*s) << 8
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), 0}), 24))
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	return out
}
