package drift

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/leash-dev/leash/internal/ruleset"
)

// entriesTable is fieldsTable with entries that carry their rules'
// verdicts (ruleset/entryverdict.go): r1 accepts in two entries, r2 drops
// in one, r3 keeps its chain (a reject), and the kernel counted them.
func entriesTable() *ruleset.Ruleset {
	kv := func(v uint32) ruleset.KeyValue { return ruleset.KeyValue{Range: ruleset.Range{Lo: v, Hi: v}} }
	addr := func(s string) ruleset.KeyValue { return ruleset.KeyValue{Prefix: netip.MustParsePrefix(s)} }
	key := func(a string, port uint32) []ruleset.KeyValue { return []ruleset.KeyValue{addr(a), kv(6), kv(port)} }
	o := func(id string, line int) ruleset.Origin {
		return ruleset.Origin{ID: id, Policy: "web", What: "rule", File: "p.yaml", Line: line, Col: 9, Text: id + " text"}
	}
	return &ruleset.Ruleset{
		Maps: []*ruleset.Map{{Name: "web_m1_v4_24", Counters: true, Origins: []ruleset.Origin{o("web/r1", 7), o("web/r2", 8)},
			Fields: []ruleset.KeyField{{Kind: ruleset.KindIPv4, Mask: 24}, {Kind: ruleset.KindProto}, {Kind: ruleset.KindPort}},
			Entries: []ruleset.MapEntry{
				{Values: key("10.0.1.0/32", 22), Verdict: ruleset.Drop, Rule: "web/r2", Packets: 1, Bytes: 60},
				{Values: key("10.0.2.0/32", 25), Verdict: ruleset.Accept, Rule: "web/r1", Packets: 3, Bytes: 300},
				{Values: key("10.0.3.0/32", 25), Verdict: ruleset.Accept, Rule: "web/r1", Packets: 2, Bytes: 200},
				{Values: key("10.0.4.0/32", 23), Chain: "p_web.r3", Packets: 4, Bytes: 240},
			}}},
		Chains: []*ruleset.Chain{
			{Name: "p_web", Rules: []*ruleset.Rule{
				{Verdict: ruleset.Verdict{Kind: ruleset.VMap, Map: "web_m1_v4_24"}, Origin: ruleset.Origin{ID: "web/m1", Policy: "web", What: "lookup"}, Packets: 11},
				{Verdict: ruleset.Verdict{Kind: ruleset.Drop}, Origin: ruleset.Origin{ID: "web/default", Policy: "web", What: "default"}, Packets: 1},
			}},
			{Name: "p_web.r3", Rules: []*ruleset.Rule{{Verdict: ruleset.Verdict{Kind: ruleset.RejectTCPRST}, Origin: o("web/r3", 9), Packets: 4}}},
		},
	}
}

// TestEntryCounters: a rule whose entries carry its verdict counts the
// sum of its entries, with its origin from the map, in rule order after
// the lookup; a jumping entry counts in its chain, not twice.
func TestEntryCounters(t *testing.T) {
	got := Counters(entriesTable())
	want := []ChainCounters{{Chain: "p_web", Policy: "web", Allowed: Count{5, 500}, Denied: Count{6, 60}, Rules: []RuleCounters{
		{ID: "web/m1", Verdict: "vmap web_m1_v4_24", Count: Count{Packets: 11}},
		{ID: "web/r1", Verdict: "accept", Count: Count{5, 500}, Source: "p.yaml:7:9", Text: "web/r1 text"},
		{ID: "web/r2", Verdict: "drop", Count: Count{1, 60}, Source: "p.yaml:8:9", Text: "web/r2 text"},
		{ID: "web/default", Verdict: "drop", Count: Count{Packets: 1}},
		{ID: "web/r3", Verdict: "reject", Count: Count{Packets: 4}, Source: "p.yaml:9:9", Text: "web/r3 text"},
	}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Counters (-want +got):\n%s", diff)
	}
}

// TestEntryChanges: drift compares an entry's verdict and rule, not its
// counters, and a map's counter declaration.
func TestEntryChanges(t *testing.T) {
	got := entriesTable()
	got.Maps[0].Entries[0].Packets = 99
	got.Maps[0].Entries[1].Rule = "web/r9"
	want := []string{
		`removed element in map web_m1_v4_24: 10.0.2.0 . tcp . 25 counter comment "web/r1" : accept`,
		`added element in map web_m1_v4_24: 10.0.2.0 . tcp . 25 counter comment "web/r9" : accept`,
	}
	var texts []string
	for _, c := range Changes(entriesTable(), got) {
		texts = append(texts, c.String())
	}
	if diff := cmp.Diff(want, texts); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	plain := entriesTable()
	plain.Maps[0].Counters = false
	if cs := Changes(entriesTable(), plain); len(cs) != 1 || cs[0].What != "map" || cs[0].Op != Changed {
		t.Errorf("no counter: changes %v, want the map changed", cs)
	}
}
