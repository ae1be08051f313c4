package drift

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/leash-dev/leash/internal/ruleset"
)

// fieldsTable is a policy whose rules share a lookup: a map keyed by
// ip daddr & /24 . meta l4proto . th dport jumping to the rules' chains.
func fieldsTable() *ruleset.Ruleset {
	kv := func(v uint32) ruleset.KeyValue { return ruleset.KeyValue{Range: ruleset.Range{Lo: v, Hi: v}} }
	addr := func(s string) ruleset.KeyValue { return ruleset.KeyValue{Prefix: netip.MustParsePrefix(s)} }
	o := func(id string) ruleset.Origin { return ruleset.Origin{ID: id, Policy: "web", What: "rule"} }
	return &ruleset.Ruleset{
		Maps: []*ruleset.Map{{Name: "web_m1_v4_24",
			Fields: []ruleset.KeyField{{Kind: ruleset.KindIPv4, Mask: 24}, {Kind: ruleset.KindProto}, {Kind: ruleset.KindPort}},
			Entries: []ruleset.MapEntry{
				{Values: []ruleset.KeyValue{addr("10.0.1.0/32"), kv(6), kv(22)}, Chain: "p_web.r1"},
				{Values: []ruleset.KeyValue{addr("10.0.2.0/32"), kv(6), kv(25)}, Chain: "p_web.r2"},
			}}},
		Chains: []*ruleset.Chain{
			{Name: "p_web", Rules: []*ruleset.Rule{
				{Verdict: ruleset.Verdict{Kind: ruleset.VMap, Map: "web_m1_v4_24"}, Origin: ruleset.Origin{ID: "web/m1", Policy: "web", What: "lookup"}, Packets: 5},
				{Verdict: ruleset.Verdict{Kind: ruleset.Drop}, Origin: ruleset.Origin{ID: "web/default", Policy: "web", What: "default"}, Packets: 1},
			}},
			{Name: "p_web.r1", Rules: []*ruleset.Rule{{Verdict: ruleset.Verdict{Kind: ruleset.Accept}, Origin: o("web/r1"), Packets: 3}}},
			{Name: "p_web.r2", Rules: []*ruleset.Rule{{Verdict: ruleset.Verdict{Kind: ruleset.Drop}, Origin: o("web/r2"), Packets: 1}}},
		},
	}
}

func TestFieldsMapChanges(t *testing.T) {
	got := fieldsTable()
	got.Maps[0].Entries[1].Values = []ruleset.KeyValue{got.Maps[0].Entries[1].Values[0], got.Maps[0].Entries[1].Values[1],
		{Range: ruleset.Range{Lo: 587, Hi: 587}}}
	want := []string{
		"removed element in map web_m1_v4_24: 10.0.2.0 . tcp . 25 : jump p_web.r2",
		"added element in map web_m1_v4_24: 10.0.2.0 . tcp . 587 : jump p_web.r2",
	}
	var texts []string
	for _, c := range Changes(fieldsTable(), got) {
		texts = append(texts, c.String())
	}
	if diff := cmp.Diff(want, texts); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	masked := fieldsTable()
	masked.Maps[0].Fields[0].Mask = 16
	if cs := Changes(fieldsTable(), masked); len(cs) == 0 || cs[0].What != "map" || cs[0].Op != Changed {
		t.Errorf("another mask: changes %v, want the map changed", cs)
	}
}

// TestRuleChainCounters: a rule's verdict chain counts in its policy's chain.
func TestRuleChainCounters(t *testing.T) {
	cs := Counters(fieldsTable())
	if len(cs) != 1 || cs[0].Chain != "p_web" || cs[0].Policy != "web" {
		t.Fatalf("counters %+v, want one chain p_web of policy web", cs)
	}
	if cs[0].Allowed.Packets != 3 || cs[0].Denied.Packets != 2 {
		t.Errorf("allowed %d denied %d, want 3 and 2", cs[0].Allowed.Packets, cs[0].Denied.Packets)
	}
	var ids []string
	for _, r := range cs[0].Rules {
		ids = append(ids, r.ID+" "+r.Verdict)
	}
	if diff := cmp.Diff([]string{"web/m1 vmap web_m1_v4_24", "web/default drop", "web/r1 accept", "web/r2 drop"}, ids); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
}
