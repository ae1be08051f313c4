package nft

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/leash-dev/leash/internal/kerneltest"
	"github.com/leash-dev/leash/internal/netns"
	"github.com/leash-dev/leash/internal/ruleset"
)

var nsSeq atomic.Int64

// newNS creates a throwaway namespace (removed at cleanup) and a Conn bound
// to it. Nothing here ever touches the root namespace's firewall.
func newNS(t testing.TB) (*netns.NS, *Conn) {
	t.Helper()
	kerneltest.Require(t)
	name := fmt.Sprintf("leash-nft-%d-%d", os.Getpid(), nsSeq.Add(1))
	ns, err := netns.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	c, err := Open(WithNetNS(ns.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	return ns, c
}

// inNS runs a command inside ns (ip netns exec) and returns its output.
func inNS(t testing.TB, ns *netns.NS, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns.Name}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v\n%s\ninput:\n%s", args, err, out, stdin)
	}
	return string(out)
}

// list is `nft list table inet leash` in ns.
func list(t testing.TB, ns *netns.NS) string {
	t.Helper()
	return inNS(t, ns, "", "nft", "list", "table", "inet", "leash")
}

// sample is a representative ruleset: sets of every kind (including
// elements at the top of their key space), uid and gid interval maps, and
// hash sets and maps (masked address lookups included), and
// rules using every match and verdict kind, some with implicit protocol
// dependencies.
func sample() *ruleset.Ruleset {
	pfx := netip.MustParsePrefix
	num := func(v uint32) ruleset.KeyValue { return ruleset.KeyValue{Range: ruleset.Range{Lo: v, Hi: v}} }
	o := func(id string) ruleset.Origin { return ruleset.Origin{ID: id, What: "rule", Policy: "p", Rule: 1} }
	m := func(k ruleset.MatchKind, set string, v uint32) ruleset.Match {
		return ruleset.Match{Kind: k, Set: set, Value: v}
	}
	return &ruleset.Ruleset{
		Sets: []*ruleset.Set{
			{Name: "d4", Kind: ruleset.KindIPv4, Interval: true, Prefixes: []netip.Prefix{pfx("0.0.0.0/8"), pfx("10.0.0.0/8"), pfx("192.168.1.1/32"), pfx("255.255.255.0/24")}},
			{Name: "d6", Kind: ruleset.KindIPv6, Interval: true, Prefixes: []netip.Prefix{pfx("2001:db8::/32"), pfx("fe80::1/128"), pfx("ffff::/16")}},
			{Name: "ports", Kind: ruleset.KindPort, Interval: true, Ranges: []ruleset.Range{{Lo: 22, Hi: 22}, {Lo: 80, Hi: 443}, {Lo: 60000, Hi: 65535}}},
			{Name: "ports0", Kind: ruleset.KindPort, Interval: true, Ranges: []ruleset.Range{{Lo: 0, Hi: 10}}},
			{Name: "icmp4", Kind: ruleset.KindICMP, Interval: true, Ranges: []ruleset.Range{{Lo: 0, Hi: 0}, {Lo: 8, Hi: 9}, {Lo: 255, Hi: 255}}},
			{Name: "icmp6", Kind: ruleset.KindICMPv6, Interval: true, Ranges: []ruleset.Range{{Lo: 128, Hi: 129}}},
			{Name: "empty4", Kind: ruleset.KindIPv4, Interval: true},
			// Hash sets: single values, some looked up with a mask.
			{Name: "h4", Kind: ruleset.KindIPv4, Prefixes: []netip.Prefix{pfx("0.0.0.0/32"), pfx("10.1.2.0/32"), pfx("255.255.255.0/32")}},
			{Name: "h6", Kind: ruleset.KindIPv6, Prefixes: []netip.Prefix{pfx("2001:db8::/128"), pfx("ffff:ffff:ffff:ffff::/128")}},
			{Name: "hports", Kind: ruleset.KindPort, Ranges: []ruleset.Range{{Lo: 0, Hi: 0}, {Lo: 25, Hi: 25}, {Lo: 65535, Hi: 65535}}},
			{Name: "hicmp6", Kind: ruleset.KindICMPv6, Ranges: []ruleset.Range{{Lo: 133, Hi: 133}, {Lo: 255, Hi: 255}}},
		},
		Maps: []*ruleset.Map{
			{Name: "users", Key: ruleset.KindUID, Interval: true, Entries: []ruleset.MapEntry{
				{Range: ruleset.Range{Lo: 0, Hi: 0}, Chain: "p_a"},
				{Range: ruleset.Range{Lo: 1000, Hi: 1000}, Chain: "p_a"},
				{Range: ruleset.Range{Lo: 2000, Hi: 2999}, Chain: "p_b"},
				{Range: ruleset.Range{Lo: 4294967295, Hi: 4294967295}, Chain: "p_b"}}},
			{Name: "groups", Key: ruleset.KindGID, Interval: true, Entries: []ruleset.MapEntry{
				{Range: ruleset.Range{Lo: 100, Hi: 100}, Chain: "p_a"}}},
			{Name: "husers", Key: ruleset.KindUID, Entries: []ruleset.MapEntry{
				{Range: ruleset.Range{Lo: 0, Hi: 0}, Chain: "p_a"},
				{Range: ruleset.Range{Lo: 3000, Hi: 3000}, Chain: "p_b"},
				{Range: ruleset.Range{Lo: 4294967295, Hi: 4294967295}, Chain: "p_b"}}},
			{Name: "hgroups", Key: ruleset.KindGID, Entries: []ruleset.MapEntry{
				{Range: ruleset.Range{Lo: 100, Hi: 100}, Chain: "p_a"}}},
			// Maps keyed by fields: concatenations (hash), masked, and one
			// address field as an interval map.
			// Entries that carry their rule's verdict, counter and comment
			// (ruleset/entryverdict.go), beside a jump, in a counting map.
			{Name: "m4", Fields: []ruleset.KeyField{{Kind: ruleset.KindIPv4, Mask: 24}, {Kind: ruleset.KindProto}, {Kind: ruleset.KindPort}}, Counters: true,
				Origins: []ruleset.Origin{o("p/r10"), o("p/r11")}, Entries: []ruleset.MapEntry{
					{Values: []ruleset.KeyValue{{Prefix: pfx("10.1.2.0/32")}, num(6), num(22)}, Verdict: ruleset.Accept, Rule: "p/r10"},
					{Values: []ruleset.KeyValue{{Prefix: pfx("10.1.3.0/32")}, num(17), num(53)}, Verdict: ruleset.Drop, Rule: "p/r11"},
					{Values: []ruleset.KeyValue{{Prefix: pfx("255.255.255.0/32")}, num(6), num(65535)}, Chain: "p_b"}}},
			{Name: "m6", Fields: []ruleset.KeyField{{Kind: ruleset.KindIPv6}, {Kind: ruleset.KindProto}, {Kind: ruleset.KindPort}}, Entries: []ruleset.MapEntry{
				{Values: []ruleset.KeyValue{{Prefix: pfx("2001:db8::1/128")}, num(6), num(443)}, Chain: "p_b"}}},
			{Name: "m6a", Fields: []ruleset.KeyField{{Kind: ruleset.KindIPv6, Mask: 64}}, Entries: []ruleset.MapEntry{
				{Values: []ruleset.KeyValue{{Prefix: pfx("2001:db8:1::/128")}}, Chain: "p_b"}}},
			{Name: "mi4", Fields: []ruleset.KeyField{{Kind: ruleset.KindIPv4}}, Interval: true, Counters: true, Entries: []ruleset.MapEntry{
				{Values: []ruleset.KeyValue{{Prefix: pfx("0.0.0.0/8")}}, Verdict: ruleset.Accept, Rule: "p/r12"},
				{Values: []ruleset.KeyValue{{Prefix: pfx("10.0.0.0/8")}}, Chain: "p_b"},
				{Values: []ruleset.KeyValue{{Prefix: pfx("192.168.1.1/32")}}, Chain: "p_b"}}},
			{Name: "mp", Fields: []ruleset.KeyField{{Kind: ruleset.KindProto}, {Kind: ruleset.KindPort}}, Entries: []ruleset.MapEntry{
				{Values: []ruleset.KeyValue{num(17), num(123)}, Chain: "p_b"}}},
			{Name: "mproto", Fields: []ruleset.KeyField{{Kind: ruleset.KindProto}}, Entries: []ruleset.MapEntry{
				{Values: []ruleset.KeyValue{num(47)}, Chain: "p_b"}}},
			{Name: "micmp", Fields: []ruleset.KeyField{{Kind: ruleset.KindIPv4}, {Kind: ruleset.KindICMP}}, Entries: []ruleset.MapEntry{
				{Values: []ruleset.KeyValue{{Prefix: pfx("192.0.2.1/32")}, num(8)}, Chain: "p_b"}}},
			{Name: "micmp6", Fields: []ruleset.KeyField{{Kind: ruleset.KindICMPv6}}, Entries: []ruleset.MapEntry{
				{Values: []ruleset.KeyValue{num(128)}, Chain: "p_b"}}},
		},
		Chains: []*ruleset.Chain{
			{Name: "p_a", Rules: []*ruleset.Rule{
				{Match: []ruleset.Match{m(ruleset.MatchFamily, "", 4), m(ruleset.MatchDaddr, "d4", 0), m(ruleset.MatchL4Proto, "", 6), m(ruleset.MatchDport, "ports", 0)}, Verdict: ruleset.Verdict{Kind: ruleset.Accept}, Origin: o("p/r1")},
				{Match: []ruleset.Match{m(ruleset.MatchDaddr, "d6", 0)}, Verdict: ruleset.Verdict{Kind: ruleset.RejectTCPRST}, Origin: o("p/r2")},
				{Match: []ruleset.Match{m(ruleset.MatchICMPType, "icmp4", 0)}, Verdict: ruleset.Verdict{Kind: ruleset.Accept}, Origin: o("p/r3")},
				{Match: []ruleset.Match{m(ruleset.MatchL4Proto, "", 58), m(ruleset.MatchICMPType, "icmp6", 0)}, Verdict: ruleset.Verdict{Kind: ruleset.Drop}, Origin: o("p/r4")},
				{Match: []ruleset.Match{m(ruleset.MatchFamily, "", 6), m(ruleset.MatchICMPType, "icmp6", 0)}, Verdict: ruleset.Verdict{Kind: ruleset.Accept}, Origin: o("p/r5")},
				{Match: []ruleset.Match{m(ruleset.MatchL4Proto, "", 17), m(ruleset.MatchDport, "ports0", 0), m(ruleset.MatchDaddr, "empty4", 0)}, Verdict: ruleset.Verdict{Kind: ruleset.Goto, Chain: "p_b"}, Origin: o("p/r6")},
				{Match: []ruleset.Match{m(ruleset.MatchL4Proto, "", 6)}, Verdict: ruleset.Verdict{Kind: ruleset.RejectTCPRST}, Origin: o("p/r7")},
				{Match: []ruleset.Match{{Kind: ruleset.MatchDaddr, Set: "h4", Mask: 24}, m(ruleset.MatchL4Proto, "", 6), m(ruleset.MatchDport, "hports", 0)}, Verdict: ruleset.Verdict{Kind: ruleset.Drop}, Origin: o("p/r8")},
				{Match: []ruleset.Match{{Kind: ruleset.MatchDaddr, Set: "h6", Mask: 64}}, Verdict: ruleset.Verdict{Kind: ruleset.Drop}, Origin: o("p/r9")},
				{Match: []ruleset.Match{{Kind: ruleset.MatchDaddr, Set: "h4"}}, Verdict: ruleset.Verdict{Kind: ruleset.Drop}, Origin: o("p/r10")},
				{Match: []ruleset.Match{m(ruleset.MatchICMPType, "hicmp6", 0)}, Verdict: ruleset.Verdict{Kind: ruleset.Accept}, Origin: o("p/r11")},
				{Match: []ruleset.Match{{Kind: ruleset.MatchRoutingHeader}}, Verdict: ruleset.Verdict{Kind: ruleset.Drop}, Origin: o("p/routing-header")},
				{Match: []ruleset.Match{{Kind: ruleset.MatchSourceRoute, Value: ruleset.OptLSRR}}, Verdict: ruleset.Verdict{Kind: ruleset.Drop}, Origin: o("p/source-route")},
				{Match: []ruleset.Match{{Kind: ruleset.MatchSourceRoute, Value: ruleset.OptSSRR}}, Verdict: ruleset.Verdict{Kind: ruleset.Drop}, Origin: o("p/source-route")},
				{Match: []ruleset.Match{m(ruleset.MatchL4Proto, "", 2), {Kind: ruleset.MatchLimit, Limit: &ruleset.RateLimit{Rate: 1, Unit: "second", Burst: 10}}}, Verdict: ruleset.Verdict{Kind: ruleset.Accept}, Origin: o("p/r12")},
				{Verdict: ruleset.Verdict{Kind: ruleset.VMap, Map: "m4"}, Origin: o("p/m1")},
				{Verdict: ruleset.Verdict{Kind: ruleset.VMap, Map: "m6"}, Origin: o("p/m2")},
				{Verdict: ruleset.Verdict{Kind: ruleset.VMap, Map: "m6a"}, Origin: o("p/m3")},
				{Verdict: ruleset.Verdict{Kind: ruleset.VMap, Map: "mi4"}, Origin: o("p/m4")},
				{Verdict: ruleset.Verdict{Kind: ruleset.VMap, Map: "mp"}, Origin: o("p/m5")},
				{Verdict: ruleset.Verdict{Kind: ruleset.VMap, Map: "mproto"}, Origin: o("p/m6")},
				{Match: []ruleset.Match{m(ruleset.MatchL4Proto, "", 1)}, Verdict: ruleset.Verdict{Kind: ruleset.VMap, Map: "micmp"}, Origin: o("p/m7")},
				{Match: []ruleset.Match{m(ruleset.MatchL4Proto, "", 58)}, Verdict: ruleset.Verdict{Kind: ruleset.VMap, Map: "micmp6"}, Origin: o("p/m8")},
				{Verdict: ruleset.Verdict{Kind: ruleset.Log, Log: &ruleset.LogAction{Prefix: "leash p/default reject", Group: 4242, Rate: 10, Unit: "second", Burst: 20}}, Origin: o("p/default")},
				{Match: []ruleset.Match{m(ruleset.MatchL4Proto, "", 17)}, Verdict: ruleset.Verdict{Kind: ruleset.Log, Log: &ruleset.LogAction{Prefix: "leash p/x drop", Group: 65535, Rate: 3, Unit: "minute", Burst: 1}}, Origin: o("p/x")},
				{Verdict: ruleset.Verdict{Kind: ruleset.RejectAdmin}, Origin: o("p/default")},
			}},
			{Name: "p_b", Rules: []*ruleset.Rule{
				{Verdict: ruleset.Verdict{Kind: ruleset.Drop}, Origin: o("q/default")},
			}},
			{Name: "out", Hook: &ruleset.Hook{Hook: "output", Priority: 0}, Rules: []*ruleset.Rule{
				{Match: []ruleset.Match{m(ruleset.MatchMark, "", 0x6c656173)}, Verdict: ruleset.Verdict{Kind: ruleset.Jump, Chain: "p_b"}, Origin: o("dns-exempt")},
				{Match: []ruleset.Match{m(ruleset.MatchLoopback, "", 0)}, Verdict: ruleset.Verdict{Kind: ruleset.Accept}, Origin: o("baseline/loopback")},
				{Match: []ruleset.Match{m(ruleset.MatchCtReply, "", 0)}, Verdict: ruleset.Verdict{Kind: ruleset.Continue}, Origin: o("baseline/reply")},
				{Match: []ruleset.Match{m(ruleset.MatchOwned, "", 0), m(ruleset.MatchCtEstablished, "", 0)}, Verdict: ruleset.Verdict{Kind: ruleset.Continue}, Origin: o("baseline/established")},
				{Match: []ruleset.Match{m(ruleset.MatchFamily, "", 6)}, Verdict: ruleset.Verdict{Kind: ruleset.Continue}},
				{Verdict: ruleset.Verdict{Kind: ruleset.VMap, Map: "users"}, Origin: o("baseline/dispatch")},
				{Verdict: ruleset.Verdict{Kind: ruleset.VMap, Map: "groups"}, Origin: o("baseline/dispatch-gid")},
				{Verdict: ruleset.Verdict{Kind: ruleset.VMap, Map: "husers"}, Origin: o("baseline/dispatch-hash")},
				{Verdict: ruleset.Verdict{Kind: ruleset.VMap, Map: "hgroups"}, Origin: o("baseline/dispatch-hash-gid")},
				{Match: []ruleset.Match{m(ruleset.MatchOwned, "", 0)}, Verdict: ruleset.Verdict{Kind: ruleset.Jump, Chain: "p_b"}, Origin: o("baseline/owned")},
			}},
		},
	}
}

// kernelView is what Read can return for rs: canonical matches, Origin
// reduced to its ID, counters cleared.
func kernelView(rs *ruleset.Ruleset) *ruleset.Ruleset {
	c := ruleset.Canonical(rs)
	for _, ch := range c.Chains {
		for _, r := range ch.Rules {
			r.Origin = ruleset.Origin{ID: r.Origin.ID}
			r.Packets, r.Bytes = 0, 0
		}
	}
	for _, m := range c.Maps {
		m.Origins = nil // the kernel holds the ids only, as element comments
		for i := range m.Entries {
			m.Entries[i].Packets, m.Entries[i].Bytes = 0, 0
		}
	}
	return c
}

// diffIR compares rulesets (netip.Prefix compared by value).
func diffIR(want, got *ruleset.Ruleset) string {
	return cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }))
}

// reader is what requireReadsBack reads: a Conn, or the Fake.
type reader interface {
	Read() (*ruleset.Ruleset, error)
}

// requireReadsBack reads the table from r and fails t unless it is rs as
// the kernel holds it (kernelView), counters left out; what names the
// moment in the message ("Read after Apply").
func requireReadsBack(t testing.TB, r reader, rs *ruleset.Ruleset, what string) {
	t.Helper()
	got, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	clearCounters(got)
	if diff := diffIR(kernelView(rs), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", what, diff)
	}
}
