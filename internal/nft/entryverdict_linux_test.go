package nft

import (
	"errors"
	"net/netip"
	"testing"

	"fmt"
	"github.com/google/go-cmp/cmp"
	"github.com/leash-dev/leash/internal/ruleset"
	"golang.org/x/sys/unix"
)

// entrySample is a table whose output chain looks up a counting map of
// `ip daddr . meta l4proto . th dport` with entries that accept (p/r1),
// drop (p/r2) and jump (p/r3's chain); extra adds one more accepting
// entry of p/r1.
func entrySample(extra bool) *ruleset.Ruleset {
	key := func(a string, port uint32) []ruleset.KeyValue {
		return []ruleset.KeyValue{{Prefix: netip.MustParsePrefix(a)}, {Range: ruleset.Range{Lo: 17, Hi: 17}}, {Range: ruleset.Range{Lo: port, Hi: port}}}
	}
	entries := []ruleset.MapEntry{
		{Values: key("127.0.0.1/32", 9), Verdict: ruleset.Accept, Rule: "p/r1"},
		{Values: key("127.0.0.1/32", 10), Verdict: ruleset.Drop, Rule: "p/r2"},
		{Values: key("127.0.0.1/32", 11), Chain: "p.r3"},
	}
	if extra {
		entries = append(entries, ruleset.MapEntry{Values: key("127.0.0.1/32", 12), Verdict: ruleset.Accept, Rule: "p/r1"})
	}
	return &ruleset.Ruleset{
		Maps: []*ruleset.Map{{Name: "m", Counters: true, Entries: entries,
			Fields: []ruleset.KeyField{{Kind: ruleset.KindIPv4}, {Kind: ruleset.KindProto}, {Kind: ruleset.KindPort}}}},
		Chains: []*ruleset.Chain{
			{Name: "out", Hook: &ruleset.Hook{Hook: "output"}, Rules: []*ruleset.Rule{
				{Verdict: ruleset.Verdict{Kind: ruleset.VMap, Map: "m"}, Origin: ruleset.Origin{ID: "p/m1"}}}},
			{Name: "p.r3", Rules: []*ruleset.Rule{{Verdict: ruleset.Verdict{Kind: ruleset.Drop}, Origin: ruleset.Origin{ID: "p/r3"}}}},
		},
	}
}

// TestEntryVerdicts: the kernel takes a map entry's own verdict (accept,
// drop) as it takes a jump's, counts the packets of each entry, and reads
// back the counts and comments; an element update keeps the counts of the
// entries that stay (and a new entry starts from zero).
func TestEntryVerdicts(t *testing.T) {
	ns, c := newNS(t)
	inNS(t, ns, "", "ip", "link", "set", "lo", "up")
	rs := entrySample(false)
	if err := ruleset.Validate(rs); err != nil {
		t.Fatal(err)
	}
	if err := c.Apply(rs); err != nil {
		t.Fatal(err)
	}
	sent := map[int]error{}
	if err := ns.Do(func() error {
		for _, port := range []int{9, 9, 10, 11} {
			sent[port] = sendUDP(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)).String())
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if sent[9] != nil || !errors.Is(sent[10], unix.EPERM) || !errors.Is(sent[11], unix.EPERM) {
		t.Errorf("sends: port 9 %v (want accepted), 10 %v and 11 %v (want EPERM)", sent[9], sent[10], sent[11])
	}
	got, err := c.Read()
	if err != nil {
		t.Fatal(err)
	}
	counts := func(rs *ruleset.Ruleset) []string {
		var out []string
		for _, e := range rs.Map("m").Entries {
			out = append(out, fmt.Sprintf("%s %d packets", ruleset.EntryText(rs.Map("m"), e), e.Packets))
		}
		return out
	}
	want := []string{
		`127.0.0.1 . udp . 9 counter comment "p/r1" : accept 2 packets`,
		`127.0.0.1 . udp . 10 counter comment "p/r2" : drop 1 packets`,
		`127.0.0.1 . udp . 11 counter : jump p.r3 1 packets`,
	}
	if diff := cmp.Diff(want, counts(got)); diff != "" {
		t.Errorf("entries read back (-want +got):\n%s", diff)
	}
	u, ok := ruleset.ElementsDiff(rs, entrySample(true))
	if !ok || len(u.Maps) != 1 {
		t.Fatalf("diff: %v %v", u, ok)
	}
	if err := c.UpdateSets(u); err != nil {
		t.Fatal(err)
	}
	if got, err = c.Read(); err != nil {
		t.Fatal(err)
	}
	want = append(want, `127.0.0.1 . udp . 12 counter comment "p/r1" : accept 0 packets`)
	if diff := cmp.Diff(want, counts(got)); diff != "" {
		t.Errorf("entries after the update (-want +got):\n%s", diff)
	}
	// And back: the entry is deleted (with its verdict and comment in the
	// message, as encoded), the others keep their counts.
	if u, ok = ruleset.ElementsDiff(entrySample(true), rs); !ok || len(u.Maps) != 1 {
		t.Fatalf("diff back: %v %v", u, ok)
	}
	if err := c.UpdateSets(u); err != nil {
		t.Fatal(err)
	}
	if got, err = c.Read(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want[:3], counts(got)); diff != "" {
		t.Errorf("entries after the update back (-want +got):\n%s", diff)
	}
}
