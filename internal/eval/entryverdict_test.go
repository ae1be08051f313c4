package eval_test

import (
	"net/netip"
	"testing"

	"github.com/leash-dev/leash/internal/eval"
	"github.com/leash-dev/leash/internal/ruleset"
)

// TestEntryVerdict: a map entry that carries its rule's verdict decides
// the packet in the chain that looks the map up, and eval names the
// rule, with its origin from the map; a jumping entry goes on to its
// chain, and a key no entry holds falls through to the next rule.
func TestEntryVerdict(t *testing.T) {
	key := func(port uint32) []ruleset.KeyValue {
		return []ruleset.KeyValue{{Prefix: netip.MustParsePrefix("192.0.2.0/32")}, {Range: ruleset.Range{Lo: 6, Hi: 6}}, {Range: ruleset.Range{Lo: port, Hi: port}}}
	}
	r1 := ruleset.Origin{ID: "web/r1", Policy: "web", What: "rule", File: "p.yaml", Line: 6, Col: 9}
	rs := &ruleset.Ruleset{
		Maps: []*ruleset.Map{{Name: "m", Counters: true, Origins: []ruleset.Origin{r1},
			Fields: []ruleset.KeyField{{Kind: ruleset.KindIPv4, Mask: 24}, {Kind: ruleset.KindProto}, {Kind: ruleset.KindPort}},
			Entries: []ruleset.MapEntry{
				{Values: key(25), Verdict: ruleset.Accept, Rule: "web/r1"},
				{Values: key(26), Verdict: ruleset.Drop, Rule: "web/r2"},
				{Values: key(27), Chain: "p_web.r3"},
			}}},
		Chains: []*ruleset.Chain{
			{Name: "output", Hook: &ruleset.Hook{Hook: "output"}, Rules: []*ruleset.Rule{
				{Verdict: ruleset.Verdict{Kind: ruleset.VMap, Map: "m"}, Origin: ruleset.Origin{ID: "web/m1"}},
				{Verdict: ruleset.Verdict{Kind: ruleset.Drop}, Origin: ruleset.Origin{ID: "web/default"}},
			}},
			{Name: "p_web.r3", Rules: []*ruleset.Rule{{Verdict: ruleset.Verdict{Kind: ruleset.RejectTCPRST}, Origin: ruleset.Origin{ID: "web/r3"}}}},
		},
	}
	tests := []struct {
		port    uint16
		verdict ruleset.VerdictKind
		origin  ruleset.Origin
		chain   string
	}{
		{port: 25, verdict: ruleset.Accept, origin: r1, chain: "output"},
		{port: 26, verdict: ruleset.Drop, origin: ruleset.Origin{ID: "web/r2"}, chain: "output"}, // not in Origins: the id only
		{port: 27, verdict: ruleset.RejectTCPRST, origin: ruleset.Origin{ID: "web/r3"}, chain: "p_web.r3"},
		{port: 28, verdict: ruleset.Drop, origin: ruleset.Origin{ID: "web/default"}, chain: "output"},
	}
	for _, tt := range tests {
		res, err := eval.Evaluate(rs, eval.Packet{Owned: true, Daddr: netip.MustParseAddr("192.0.2.9"), Proto: ruleset.ProtoTCP, Dport: tt.port})
		if err != nil {
			t.Fatal(err)
		}
		if res.Verdict.Kind != tt.verdict || res.Rule == nil || res.Rule.Origin != tt.origin || res.Chain != tt.chain {
			t.Errorf("port %d: verdict %s by %+v in %s, want %s by %+v in %s", tt.port, res.Verdict.Kind, res.Rule, res.Chain, tt.verdict, tt.origin, tt.chain)
		}
	}
}
