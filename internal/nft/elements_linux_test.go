package nft

import (
	"net/netip"
	"testing"

	"github.com/leash-dev/leash/internal/drift"
	"github.com/leash-dev/leash/internal/ruleset"
)

// elementsSample is a table with a lookup of every layout a hostname's
// addresses compile into: a hash set, an interval set, a concatenated
// hash verdict map, all looked up by rules; v picks the elements.
func elementsSample(v int) *ruleset.Ruleset {
	pfx := func(ss ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, s := range ss {
			out = append(out, netip.MustParsePrefix(s))
		}
		return out
	}
	entry := func(addr string, port uint32, chain string) ruleset.MapEntry {
		return ruleset.MapEntry{Values: []ruleset.KeyValue{{Prefix: netip.MustParsePrefix(addr)}, {Range: ruleset.Range{Lo: 6, Hi: 6}}, {Range: ruleset.Range{Lo: port, Hi: port}}}, Chain: chain}
	}
	hash, ivl := pfx("192.0.2.1/32", "192.0.2.9/32"), pfx("10.0.0.0/8", "192.0.2.64/26")
	entries := []ruleset.MapEntry{entry("192.0.2.1/32", 25, "a"), entry("192.0.2.2/32", 443, "a")}
	if v == 2 {
		hash, ivl = pfx("192.0.2.9/32", "192.0.2.10/32"), pfx("10.0.0.0/8", "192.0.2.128/26", "192.0.2.200/32")
		entries = []ruleset.MapEntry{entry("192.0.2.2/32", 443, "b"), entry("192.0.2.3/32", 25, "a")}
	}
	accept := func(id string) *ruleset.Rule {
		return &ruleset.Rule{Verdict: ruleset.Verdict{Kind: ruleset.Accept}, Origin: ruleset.Origin{ID: id}}
	}
	return &ruleset.Ruleset{
		Sets: []*ruleset.Set{
			{Name: "h", Kind: ruleset.KindIPv4, Prefixes: hash},
			{Name: "i", Kind: ruleset.KindIPv4, Interval: true, Prefixes: ivl},
		},
		Maps: []*ruleset.Map{{Name: "m", Fields: []ruleset.KeyField{{Kind: ruleset.KindIPv4}, {Kind: ruleset.KindProto}, {Kind: ruleset.KindPort}}, Entries: entries}},
		Chains: []*ruleset.Chain{
			{Name: "out", Hook: &ruleset.Hook{Hook: "output"}, Rules: []*ruleset.Rule{
				{Match: []ruleset.Match{{Kind: ruleset.MatchDaddr, Set: "h"}}, Verdict: ruleset.Verdict{Kind: ruleset.Accept}, Origin: ruleset.Origin{ID: "p/r1"}},
				{Match: []ruleset.Match{{Kind: ruleset.MatchDaddr, Set: "i"}}, Verdict: ruleset.Verdict{Kind: ruleset.Drop}, Origin: ruleset.Origin{ID: "p/r2"}},
				{Verdict: ruleset.Verdict{Kind: ruleset.VMap, Map: "m"}, Origin: ruleset.Origin{ID: "p/m1"}},
			}},
			{Name: "a", Rules: []*ruleset.Rule{accept("p/a")}},
			{Name: "b", Rules: []*ruleset.Rule{accept("p/b")}},
		},
	}
}

// TestUpdateSets: an element update (ruleset.ElementsDiff) of a hash set,
// an interval set (flushed and refilled) and a verdict map (a changed jump
// deleted and added) leaves the kernel holding the new table exactly, in
// one transaction; the same update again changes nothing and fails not.
func TestUpdateSets(t *testing.T) {
	_, c := newNS(t)
	old, next := elementsSample(1), elementsSample(2)
	for _, rs := range []*ruleset.Ruleset{old, next} {
		if err := ruleset.Validate(rs); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Apply(old); err != nil {
		t.Fatal(err)
	}
	u, ok := ruleset.ElementsDiff(old, next)
	if !ok || len(u.Sets) != 2 || len(u.Maps) != 1 {
		t.Fatalf("diff: %v %v", u, ok)
	}
	for i := range 2 {
		if err := c.UpdateSets(u); err != nil {
			t.Fatalf("update %d: %v", i+1, err)
		}
		got, err := c.Read()
		if err != nil {
			t.Fatal(err)
		}
		if ch := drift.Changes(kernelView(next), got); len(ch) > 0 {
			t.Errorf("update %d: the kernel differs from the new table: %v", i+1, ch)
		}
	}
}
