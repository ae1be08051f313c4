package ruleset

import (
	"net/netip"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	base := func() *Ruleset {
		return &Ruleset{
			Sets: []*Set{
				{Name: "d4", Kind: KindIPv4, Interval: true, Prefixes: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
				{Name: "h4", Kind: KindIPv4, Prefixes: []netip.Prefix{netip.MustParsePrefix("10.0.0.16/32"), netip.MustParsePrefix("10.0.0.32/32")}},
			},
			Maps: []*Map{{Name: "users", Key: KindUID, Interval: true, Entries: []MapEntry{{Range: Range{Lo: 1, Hi: 2}, Chain: "c"}}}},
			Chains: []*Chain{
				{Name: "c", Rules: []*Rule{
					{Match: []Match{{Kind: MatchDaddr, Set: "d4"}}, Verdict: Verdict{Kind: Drop}},
					{Match: []Match{{Kind: MatchDaddr, Set: "h4", Mask: 28}}, Verdict: Verdict{Kind: Drop}},
				}},
				{Name: "out", Hook: &Hook{Hook: "output"}, Rules: []*Rule{{Verdict: Verdict{Kind: VMap, Map: "users"}}}},
			},
		}
	}
	tests := []struct {
		name    string
		mutate  func(rs *Ruleset)
		wantErr string // "" means valid
	}{
		{"valid", func(*Ruleset) {}, ""},
		{"missing set", func(rs *Ruleset) { rs.Chains[0].Rules[0].Match[0].Set = "nope" }, `set "nope" does not exist`},
		{"wrong set kind", func(rs *Ruleset) { rs.Chains[0].Rules[0].Match[0].Kind = MatchDport }, `has kind ipv4_addr`},
		{"missing map", func(rs *Ruleset) { rs.Chains[1].Rules[0].Verdict.Map = "nope" }, `map "nope" does not exist`},
		{"jump to base chain", func(rs *Ruleset) { rs.Chains[0].Rules[0].Verdict = Verdict{Kind: Jump, Chain: "out"} }, "base chain"},
		{"map entry to missing chain", func(rs *Ruleset) { rs.Maps[0].Entries[0].Chain = "x" }, `chain "x" does not exist`},
		{"overlapping map entries", func(rs *Ruleset) {
			rs.Maps[0].Entries = append(rs.Maps[0].Entries, MapEntry{Range: Range{Lo: 2, Hi: 3}, Chain: "c"})
		}, "overlaps"},
		{"unsorted prefixes", func(rs *Ruleset) {
			rs.Sets[0].Prefixes = append(rs.Sets[0].Prefixes, netip.MustParsePrefix("9.0.0.0/8"))
		}, "overlaps or is out of order"},
		{"unmasked prefix", func(rs *Ruleset) { rs.Sets[0].Prefixes[0] = netip.MustParsePrefix("10.0.0.1/8") }, "not a masked prefix"},
		{"v6 prefix in v4 set", func(rs *Ruleset) { rs.Sets[0].Prefixes[0] = netip.MustParsePrefix("::/8") }, "does not fit"},
		{"port out of range", func(rs *Ruleset) {
			rs.Sets = append(rs.Sets, &Set{Name: "p", Kind: KindPort, Ranges: []Range{{Lo: 1, Hi: 70000}}})
		}, "bad range"},
		{"range in hash map", func(rs *Ruleset) { rs.Maps[0].Interval = false }, "only single values"},
		{"prefix in hash set", func(rs *Ruleset) { rs.Sets[0].Interval = false }, "single addresses only"},
		{"port range in hash set", func(rs *Ruleset) {
			rs.Sets = append(rs.Sets, &Set{Name: "p", Kind: KindPort, Ranges: []Range{{Lo: 1, Hi: 2}}})
		}, "only single values"},
		{"mask on interval set", func(rs *Ruleset) { rs.Chains[0].Rules[0].Match[0].Mask = 8 }, "without flags interval"},
		{"host bits beyond mask", func(rs *Ruleset) { rs.Chains[0].Rules[1].Match[0].Mask = 26 }, "bits beyond the mask"},
		{"mask too long", func(rs *Ruleset) { rs.Chains[0].Rules[1].Match[0].Mask = 32 }, "shorter than /32"},
		{"bad name", func(rs *Ruleset) { rs.Chains[0].Name = "1c" }, "invalid name"},
		{"long name", func(rs *Ruleset) { rs.Sets[0].Name = strings.Repeat("a", 256) }, "invalid name"},
		{"duplicate object", func(rs *Ruleset) { rs.Maps[0].Name = "d4" }, "already used"},
		{"long comment", func(rs *Ruleset) { rs.Chains[0].Rules[0].Origin.ID = strings.Repeat("x", 129) }, "at most 128"},
		{"quote in comment", func(rs *Ruleset) { rs.Chains[0].Rules[0].Origin.ID = `a"b` }, "quote"},
		{"family conflict", func(rs *Ruleset) {
			rs.Chains[0].Rules[0].Match = append([]Match{{Kind: MatchFamily, Value: 6}}, rs.Chains[0].Rules[0].Match...)
		}, "conflicting protocols"},
		{"tcp reset on udp", func(rs *Ruleset) {
			rs.Chains[0].Rules[0].Match = []Match{{Kind: MatchL4Proto, Value: ProtoUDP}}
			rs.Chains[0].Rules[0].Verdict = Verdict{Kind: RejectTCPRST}
		}, "conflicting protocols"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := base()
			tt.mutate(rs)
			err := Validate(rs)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Validate = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestExplicitMatches(t *testing.T) {
	rs := &Ruleset{Sets: []*Set{{Name: "d6", Kind: KindIPv6}, {Name: "i4", Kind: KindICMP}}}
	fam := func(v uint32) Match { return Match{Kind: MatchFamily, Value: v} }
	l4 := func(v uint32) Match { return Match{Kind: MatchL4Proto, Value: v} }
	d6 := Match{Kind: MatchDaddr, Set: "d6"}
	i4 := Match{Kind: MatchICMPType, Set: "i4"}
	tests := []struct {
		name string
		in   Rule
		want []Match
	}{
		{"daddr adds family", Rule{Match: []Match{d6}}, []Match{fam(6), d6}},
		{"family already set", Rule{Match: []Match{fam(6), d6}}, []Match{fam(6), d6}},
		{"icmp adds both", Rule{Match: []Match{i4}}, []Match{fam(4), l4(1), i4}},
		{"icmp after l4proto adds nothing", Rule{Match: []Match{l4(1), i4}}, []Match{l4(1), i4}},
		{"icmp after family adds l4proto", Rule{Match: []Match{fam(4), i4}}, []Match{fam(4), l4(1), i4}},
		{"tcp reset prepends l4proto", Rule{Match: []Match{d6}, Verdict: Verdict{Kind: RejectTCPRST}}, []Match{l4(6), fam(6), d6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ExplicitMatches(rs, &tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}
