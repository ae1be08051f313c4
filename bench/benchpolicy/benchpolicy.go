// Package benchpolicy builds, directly in Go, the large resolved policies the
// benchmarks compile and load: many users spread over several policies, and
// a deny list of many destination CIDRs, without YAML, passwd or DNS.
//
// The shape (one policy of Policies, all alike):
//
//   - name: pK
//     users: [100000+2i for every i with i % Policies == K]
//     loopback: rules
//     established: allow
//     rules:
//   - deny to: <CIDRs IPv4 prefixes in 10.0.0.0/8>   # r1, one shared set
//   - allow udp UDPPort, tcp TCPPort                  # r2
//     default: deny
//
// With zero users the same rules form an everyone policy instead. The
// baseline is leash's default (established: allow, unowned: everyone)
// unless Spec.NoConntrack.
package benchpolicy

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
)

// Ports the measured traffic uses; rule r2 allows exactly these.
const (
	UDPPort = 5001
	TCPPort = 5002
)

// Policies is how many policies the users are spread over (round robin), so
// the uid verdict map points into that many distinct chains.
const Policies = 10

// FirstUID is the uid of user 0; user i has uid FirstUID+2*i, so no two users
// are adjacent and the map holds one interval per user.
const FirstUID = 100000

// Spec says how big a policy to build.
type Spec struct {
	Users int // users named by policies; 0 means one everyone policy
	CIDRs int // IPv4 prefixes in the deny rule (at most 524288)
	// NoConntrack builds the variant without any ct match: established:
	// deny in every policy and unowned: allow, so the kernel does not track
	// connections in the namespace. It isolates the cost of leash's own
	// lookups from the cost of conntrack, which any ct match switches on.
	NoConntrack bool
	// Timed adds, in every policy, TimedRules rules with closed time
	// windows in front of the measured allow, which gets a per-user limit
	// (timed.go).
	Timed bool
	// Untagged builds the variant without the orphan tag (orphan_mark:
	// off); the others have it, as a policy file does by default (and
	// NoConntrack cannot: the tag lives in conntrack).
	Untagged bool
}

// Target is the user the benchmark measures and the policy that judges it.
type Target struct {
	UID    uint32
	Policy string // policy name; its chain is compile.ChainName(Policy)
	// Allow is the rule id of the allow that accepts the measured packets.
	Allow string
}

// Build returns the resolved policy for s and the user to measure: the
// middle user of the map (or, with no users, uid FirstUID, judged by the
// everyone policy).
func Build(s Spec) (*policy.Resolved, Target) {
	deny := &policy.Destinations{V4: Prefixes(s.CIDRs)}
	r := &policy.Resolved{
		File: "bench.yaml",
		Baseline: policy.Baseline{
			Loopback:    policy.Loopback{Mode: policy.LoopbackRules},
			Established: true,
			Unowned:     policy.UnownedEveryone,
			OrphanMark:  policy.DefaultOrphanMark,
			MPTCPJoins:  policy.MPTCPDeny,
		},
	}
	if s.NoConntrack {
		r.Baseline.Established, r.Baseline.Unowned = false, policy.UnownedAllow
	}
	if s.NoConntrack || s.Untagged {
		r.Baseline.OrphanMark = 0
	}
	if s.Users == 0 {
		p := newPolicy("everyone", deny, r.Baseline.Established)
		p.Everyone = true
		r.Policies = []*policy.ResolvedPolicy{p}
		return r, finish(r, s, Target{UID: FirstUID, Policy: p.Name})
	}
	n := min(Policies, s.Users)
	for k := range n {
		r.Policies = append(r.Policies, newPolicy(fmt.Sprintf("p%d", k), deny, r.Baseline.Established))
	}
	for i := range s.Users {
		uid := uint32(FirstUID + 2*i)
		p := r.Policies[i%n]
		p.UIDs = append(p.UIDs, ruleset.Range{Lo: uid, Hi: uid})
	}
	mid := s.Users / 2
	return r, finish(r, s, Target{UID: uint32(FirstUID + 2*mid), Policy: r.Policies[mid%n].Name})
}

// finish adds the Timed variant's rules (each policy its own copies) and
// names the measured allow.
func finish(r *policy.Resolved, s Spec, t Target) Target {
	t.Allow = t.Policy + "/r2"
	if !s.Timed {
		return t
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic(fmt.Sprintf("benchpolicy: %v", err)) // tzdata is part of the benchmark's environment
	}
	r.At = timedAt()
	for _, p := range r.Policies {
		id := addTimed(p, berlin)
		if p.Name == t.Policy {
			t.Allow = id
		}
	}
	return t
}

// newPolicy is one policy with the benchmark's rules: deny the CIDRs, allow
// the measured ports, deny the rest; loopback traffic goes through the rules.
func newPolicy(name string, deny *policy.Destinations, established bool) *policy.ResolvedPolicy {
	pos := policy.Pos{File: "bench.yaml", Line: 1, Col: 1}
	port := func(p uint32) []ruleset.Range { return []ruleset.Range{{Lo: p, Hi: p}} }
	return &policy.ResolvedPolicy{
		Name:        name,
		Pos:         pos,
		Default:     policy.Deny,
		DefaultPos:  pos,
		Loopback:    policy.Loopback{Mode: policy.LoopbackRules, Pos: pos},
		Established: established,
		Rules: []*policy.ResolvedRule{
			{Index: 1, Pos: pos, Action: policy.Deny, Text: "deny to: blocklist", To: deny},
			{Index: 2, Pos: pos, Action: policy.Allow, Text: fmt.Sprintf("allow udp %d, tcp %d", UDPPort, TCPPort),
				Protos: []policy.ProtoSpec{
					{Proto: ruleset.ProtoUDP, Ports: port(UDPPort)},
					{Proto: ruleset.ProtoTCP, Ports: port(TCPPort)},
				}},
		},
	}
}

// Prefixes returns n distinct, non-adjacent IPv4 /28 prefixes inside
// 10.0.0.0/8, sorted, chosen pseudo-randomly with a fixed seed (the same n
// always gives the same list). None of them contains 127.0.0.1. n is capped
// at 2^19, the number of even /28 slots in 10.0.0.0/8.
func Prefixes(n int) []netip.Prefix {
	const slots = 1 << 19 // even /28 slots: slot s is 10.0.0.0 + 32*s
	n = min(n, slots)
	rng := rand.New(rand.NewPCG(1, 2))
	picked := rng.Perm(slots)[:n]
	slices.Sort(picked)
	out := make([]netip.Prefix, n)
	for i, s := range picked {
		v := uint32(0x0a000000) + uint32(s)*32
		a := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
		out[i] = netip.PrefixFrom(a, 28)
	}
	return out
}
