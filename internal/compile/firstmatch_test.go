package compile_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"go4.org/netipx"

	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/eval"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
)

// TestFlatFirstMatch compiles random rule lists with overlapping
// destinations, ports, protocols and ICMP types over IPv4 and IPv6, and
// checks for many packets that the compiled table (through eval) decides
// exactly as the rule list read top to bottom: same verdict, same deciding
// rule, same log prefix. The lists are small but dense, so that rules
// overlap, share lookups, are split by rules of other shapes and shadow
// each other.
func TestFlatFirstMatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 16))
	var lookups, ruleChains int
	defer func() {
		// The lists must exercise shared lookups, not only rules of their own.
		if lookups < 100 || ruleChains < 100 {
			t.Errorf("only %d shared lookups and %d rule chains over all policies", lookups, ruleChains)
		}
		t.Logf("%d shared lookups, %d rule chains", lookups, ruleChains)
	}()
	for i := range 300 {
		p := randomPolicy(rng, 2+rng.IntN(10))
		r := &policy.Resolved{File: "t.yaml", Policies: []*policy.ResolvedPolicy{p},
			Baseline: policy.Baseline{Unowned: policy.UnownedAllow, Log: policy.LogSettings{Group: 1, Rate: 1, Unit: "second", Burst: 1}}}
		rs := compile.Compile(r)
		lookups += len(rs.Maps) - 1 // the users map
		ruleChains += len(rs.Chains) - 3
		if err := ruleset.Validate(rs); err != nil {
			t.Fatalf("policy %d: %v\n%s", i, err, describePolicy(p))
		}
		for range 300 {
			pkt := randomPacket(rng)
			want, wantLog := firstMatch(p, pkt)
			res, err := eval.Evaluate(rs, pkt)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if res.Rule != nil {
				got = string(res.Verdict.Kind) + " by " + res.Rule.Origin.ID
			}
			if got != want || res.Logged != wantLog {
				t.Fatalf("policy %d, packet %+v: got %s (log %q), want %s (log %q)\n%s\n%s", i, pkt, got, res.Logged, want, wantLog,
					describePolicy(p), ruleset.Text(rs, ruleset.TextOptions{}))
			}
		}
	}
}

const testUID = 1000

// randomPolicy is a policy of n random rules for uid testUID, with
// nothing before the rules (no established, loopback through the rules).
func randomPolicy(rng *rand.Rand, n int) *policy.ResolvedPolicy {
	pos := policy.Pos{File: "t.yaml", Line: 1, Col: 1}
	p := &policy.ResolvedPolicy{Name: "p", Pos: pos, UIDs: []ruleset.Range{{Lo: testUID, Hi: testUID}},
		Default: []policy.Action{policy.Allow, policy.Deny, policy.Reject}[rng.IntN(3)], DefaultPos: pos,
		Loopback: policy.Loopback{Mode: policy.LoopbackRules}, Log: rng.IntN(2) == 0}
	for i := range n {
		r := &policy.ResolvedRule{Index: i + 1, Pos: policy.Pos{File: "t.yaml", Line: i + 2, Col: 9},
			Action: []policy.Action{policy.Allow, policy.Deny, policy.Reject}[rng.IntN(3)], Log: rng.IntN(3) == 0}
		r.Text = fmt.Sprintf("rule %d", i+1)
		if rng.IntN(5) > 0 {
			r.To = randomDestinations(rng)
		}
		if rng.IntN(4) > 0 {
			r.Protos = randomProtos(rng)
		}
		if r.To == nil && r.Protos == nil && rng.IntN(2) == 0 {
			r.Protos = randomProtos(rng)
		}
		p.Rules = append(p.Rules, r)
	}
	return p
}

// The small address universes packets and rules are drawn from.
var (
	base4 = netip.MustParseAddr("10.0.0.0")
	base6 = netip.MustParseAddr("fd00::")
)

func randomAddr(rng *rand.Rand, v6 bool) netip.Addr {
	b := base4.As16()
	if v6 {
		b = base6.As16()
	}
	b[14], b[15] = byte(rng.IntN(4)), byte(rng.IntN(256))
	a := netip.AddrFrom16(b)
	if !v6 {
		a = a.Unmap()
	}
	return a
}

func randomDestinations(rng *rand.Rand) *policy.Destinations {
	var b4, b6 netipx.IPSetBuilder
	for range 1 + rng.IntN(4) {
		v6 := rng.IntN(3) == 0
		bits := []int{32, 32, 31, 30, 28, 24, 22}[rng.IntN(7)]
		if v6 {
			b6.AddPrefix(netip.PrefixFrom(randomAddr(rng, true), bits+96).Masked())
		} else {
			b4.AddPrefix(netip.PrefixFrom(randomAddr(rng, false), bits).Masked())
		}
	}
	if rng.IntN(8) == 0 { // a many-prefix list: hash parts
		for i := range 70 {
			b4.AddPrefix(netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, byte(i % 4), byte(i * 3)}), 32))
		}
	}
	s4, _ := b4.IPSet()
	s6, _ := b6.IPSet()
	return &policy.Destinations{V4: s4.Prefixes(), V6: s6.Prefixes()}
}

func randomProtos(rng *rand.Rand) []policy.ProtoSpec {
	var out []policy.ProtoSpec
	seen := map[uint8]bool{}
	for range 1 + rng.IntN(3) {
		var s policy.ProtoSpec
		switch rng.IntN(6) {
		case 0, 1:
			s.Proto = ruleset.ProtoTCP
		case 2:
			s.Proto = ruleset.ProtoUDP
		case 3:
			s.Proto = ruleset.ProtoICMP
		case 4:
			s.Proto = ruleset.ProtoICMPv6
		case 5:
			s.Proto = 47 // gre: any other protocol
		}
		if seen[s.Proto] {
			continue
		}
		seen[s.Proto] = true
		switch {
		case (s.Proto == ruleset.ProtoTCP || s.Proto == ruleset.ProtoUDP) && rng.IntN(4) > 0:
			s.Ports = randomRanges(rng, [][2]uint32{{22, 22}, {53, 53}, {80, 80}, {443, 443}, {1000, 1003}, {1000, 5000}, {80, 90}})
		case (s.Proto == ruleset.ProtoICMP || s.Proto == ruleset.ProtoICMPv6) && rng.IntN(2) > 0:
			s.Types = randomRanges(rng, [][2]uint32{{0, 0}, {3, 3}, {8, 8}, {128, 129}, {0, 200}})
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b policy.ProtoSpec) int { return int(a.Proto) - int(b.Proto) })
	return out
}

// randomRanges picks some of choices and merges them.
func randomRanges(rng *rand.Rand, choices [][2]uint32) []ruleset.Range {
	var rs []ruleset.Range
	for _, c := range choices {
		if rng.IntN(3) == 0 {
			rs = append(rs, ruleset.Range{Lo: c[0], Hi: c[1]})
		}
	}
	if len(rs) == 0 {
		c := choices[rng.IntN(len(choices))]
		rs = append(rs, ruleset.Range{Lo: c[0], Hi: c[1]})
	}
	slices.SortFunc(rs, func(a, b ruleset.Range) int { return int(a.Lo) - int(b.Lo) })
	var out []ruleset.Range
	for _, r := range rs {
		if n := len(out); n > 0 && r.Lo <= out[n-1].Hi+1 {
			out[n-1].Hi = max(out[n-1].Hi, r.Hi)
			continue
		}
		out = append(out, r)
	}
	return out
}

func randomPacket(rng *rand.Rand) eval.Packet {
	v6 := rng.IntN(3) == 0
	pkt := eval.Packet{Owned: true, UID: testUID, Daddr: randomAddr(rng, v6)}
	switch rng.IntN(5) {
	case 0, 1:
		pkt.Proto = ruleset.ProtoTCP
	case 2:
		pkt.Proto = ruleset.ProtoUDP
	case 3:
		pkt.Proto = ruleset.ProtoICMP
		if v6 {
			pkt.Proto = ruleset.ProtoICMPv6
		}
		pkt.ICMPType = []uint8{0, 3, 8, 128, 129, 200, 250}[rng.IntN(7)]
	case 4:
		pkt.Proto = 47
	}
	if pkt.Proto == ruleset.ProtoTCP || pkt.Proto == ruleset.ProtoUDP {
		pkt.Dport = []uint16{22, 53, 80, 85, 443, 1001, 1500, 6000}[rng.IntN(8)]
	}
	return pkt
}

// firstMatch is the policy read top to bottom: the first rule matching
// pkt, else the default, as "VERDICT by ID", and the log prefix.
func firstMatch(p *policy.ResolvedPolicy, pkt eval.Packet) (string, string) {
	for _, r := range p.Rules {
		if ruleMatches(r, pkt) {
			id := fmt.Sprintf("%s/r%d", p.Name, r.Index)
			return outcome(r.Action, id, r.Log, pkt)
		}
	}
	return outcome(p.Default, p.Name+"/default", p.Log, pkt)
}

func outcome(a policy.Action, id string, log bool, pkt eval.Packet) (string, string) {
	v := ruleset.Accept
	switch {
	case a == policy.Deny:
		v = ruleset.Drop
	case a == policy.Reject && pkt.Proto == ruleset.ProtoTCP:
		v = ruleset.RejectTCPRST
	case a == policy.Reject:
		v = ruleset.RejectAdmin
	}
	prefix := ""
	if log && a != policy.Allow {
		prefix = ruleset.LogPrefix(id, v)
	}
	return string(v) + " by " + id, prefix
}

func ruleMatches(r *policy.ResolvedRule, pkt eval.Packet) bool {
	if r.To != nil {
		list := r.To.V4
		if pkt.Daddr.Is6() {
			list = r.To.V6
		}
		if !slices.ContainsFunc(list, func(p netip.Prefix) bool { return p.Contains(pkt.Daddr) }) {
			return false
		}
	}
	if r.Protos == nil {
		return true
	}
	for _, s := range r.Protos {
		if s.Proto != pkt.Proto {
			continue
		}
		// ICMP only exists with IPv4, ICMPv6 with IPv6 (packets here never mix them).
		switch {
		case s.Ports != nil:
			return inRanges(s.Ports, uint32(pkt.Dport))
		case s.Types != nil:
			return inRanges(s.Types, uint32(pkt.ICMPType))
		}
		return true
	}
	return false
}

func inRanges(rs []ruleset.Range, v uint32) bool {
	return slices.ContainsFunc(rs, func(r ruleset.Range) bool { return r.Contains(v) })
}

func describePolicy(p *policy.ResolvedPolicy) string {
	var b strings.Builder
	for _, r := range p.Rules {
		fmt.Fprintf(&b, "r%d %s log=%v to=%v protos=%+v\n", r.Index, r.Action, r.Log, r.To, r.Protos)
	}
	fmt.Fprintf(&b, "default %s log=%v\n", p.Default, p.Log)
	return b.String()
}
