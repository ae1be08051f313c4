package ruleset

import (
	"net/netip"
	"strings"
	"testing"
)

// TestValidateFieldsMaps: maps keyed by fields are checked field by field
// and entry by entry.
func TestValidateFieldsMaps(t *testing.T) {
	num := func(v uint32) KeyValue { return KeyValue{Range: Range{Lo: v, Hi: v}} }
	addr := func(s string) KeyValue { return KeyValue{Prefix: netip.MustParsePrefix(s)} }
	base := func() *Ruleset {
		return &Ruleset{
			Maps: []*Map{
				{Name: "m", Fields: []KeyField{{Kind: KindIPv4, Mask: 24}, {Kind: KindProto}, {Kind: KindPort}}, Entries: []MapEntry{
					{Values: []KeyValue{addr("10.0.1.0/32"), num(ProtoTCP), num(22)}, Chain: "r1"},
					{Values: []KeyValue{addr("10.0.1.0/32"), num(ProtoUDP), num(22)}, Chain: "r1"}}},
				{Name: "i", Fields: []KeyField{{Kind: KindICMP}}, Entries: []MapEntry{{Values: []KeyValue{num(8)}, Chain: "r1"}}},
			},
			Chains: []*Chain{
				{Name: "r1", Rules: []*Rule{{Verdict: Verdict{Kind: Accept}}}},
				{Name: "p", Rules: []*Rule{
					{Verdict: Verdict{Kind: VMap, Map: "m"}},
					{Match: []Match{{Kind: MatchL4Proto, Value: ProtoICMP}}, Verdict: Verdict{Kind: VMap, Map: "i"}},
				}},
			},
		}
	}
	tests := []struct {
		name    string
		mutate  func(rs *Ruleset)
		wantErr string
	}{
		{"valid", func(*Ruleset) {}, ""},
		{"duplicate key", func(rs *Ruleset) { rs.Maps[0].Entries[1].Values[1] = num(ProtoTCP) }, "appears twice"},
		{"host bits beyond the mask", func(rs *Ruleset) { rs.Maps[0].Entries[0].Values[0] = addr("10.0.1.1/32") }, "beyond the mask"},
		{"prefix in a hash map", func(rs *Ruleset) { rs.Maps[0].Entries[0].Values[0] = addr("10.0.1.0/24") }, "single addresses only"},
		{"port after icmp", func(rs *Ruleset) { rs.Maps[0].Entries[0].Values[1] = num(ProtoICMP) }, "only matched for tcp and udp"},
		{"too few values", func(rs *Ruleset) { rs.Maps[0].Entries[0].Values = rs.Maps[0].Entries[0].Values[:2] }, "2 values for 3 key fields"},
		{"port without protocol", func(rs *Ruleset) { rs.Maps[0].Fields = []KeyField{{Kind: KindIPv4}, {Kind: KindPort}} }, "needs an inet_proto field"},
		{"address not first", func(rs *Ruleset) {
			rs.Maps[0].Fields = []KeyField{{Kind: KindProto}, {Kind: KindIPv4}, {Kind: KindPort}}
		}, "must come first"},
		{"interval concatenation", func(rs *Ruleset) { rs.Maps[0].Interval = true }, "pipapo"},
		{"entry to a missing chain", func(rs *Ruleset) { rs.Maps[0].Entries[0].Chain = "x" }, `chain "x" does not exist`},
		{"icmp type without its protocol", func(rs *Ruleset) { rs.Chains[1].Rules[1].Match = nil }, "needs `meta l4proto icmp`"},
		{"address field of another family", func(rs *Ruleset) {
			rs.Chains[1].Rules[0].Match = []Match{{Kind: MatchFamily, Value: 6}}
		}, "conflicting protocols"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := base()
			tt.mutate(rs)
			err := Validate(rs)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
	text := Text(base(), TextOptions{})
	for _, want := range []string{
		"type ipv4_addr . inet_proto . inet_service : verdict",
		"10.0.1.0 . tcp . 22 : jump r1, 10.0.1.0 . udp . 22 : jump r1",
		"counter ip daddr & 255.255.255.0 . meta l4proto . th dport vmap @m",
		"meta l4proto icmp counter icmp type vmap @i",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
}
