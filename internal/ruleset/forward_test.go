package ruleset

import (
	"strings"
	"testing"
)

// TestValidateForwardMaps: ether_addr and ifname maps hold valid values,
// interval ifname maps disjoint ones, and oifname matches valid names.
func TestValidateForwardMaps(t *testing.T) {
	chain := &Chain{Name: "p_x", Rules: []*Rule{{Verdict: Verdict{Kind: Accept}}}}
	text := func(s string) MapEntry { return MapEntry{Values: []KeyValue{{Text: s}}, Chain: "p_x"} }
	for _, tc := range []struct {
		name string
		m    *Map
		r    *Rule
		want string // substring of the error; "" for valid
	}{
		{name: "macs", m: &Map{Name: "m", Fields: []KeyField{{Kind: KindEther}}, Entries: []MapEntry{text("02:00:00:00:00:01")}}},
		{name: "multicast mac", m: &Map{Name: "m", Fields: []KeyField{{Kind: KindEther}}, Entries: []MapEntry{text("03:00:00:00:00:01")}}, want: "multicast"},
		{name: "mac not canonical", m: &Map{Name: "m", Fields: []KeyField{{Kind: KindEther}}, Entries: []MapEntry{text("02-00-00-00-00-01")}}, want: "canonical"},
		{name: "ether interval", m: &Map{Name: "m", Fields: []KeyField{{Kind: KindEther}}, Interval: true, Entries: []MapEntry{text("02:00:00:00:00:01")}}, want: "without flags interval"},
		{name: "names", m: &Map{Name: "m", Fields: []KeyField{{Kind: KindIfname}}, Entries: []MapEntry{text("br-lan"), text("eth0")}}},
		{name: "pattern in a hash", m: &Map{Name: "m", Fields: []KeyField{{Kind: KindIfname}}, Entries: []MapEntry{text("veth*")}}, want: "pattern is not allowed"},
		{name: "patterns", m: &Map{Name: "m", Fields: []KeyField{{Kind: KindIfname}}, Interval: true, Entries: []MapEntry{text("veth*"), text("tap*"), text("br-lan")}}},
		{name: "overlapping patterns", m: &Map{Name: "m", Fields: []KeyField{{Kind: KindIfname}}, Interval: true, Entries: []MapEntry{text("veth*"), text("vethab*")}}, want: "overlap"},
		{name: "a name in a pattern", m: &Map{Name: "m", Fields: []KeyField{{Kind: KindIfname}}, Interval: true, Entries: []MapEntry{text("veth*"), text("veth0")}}, want: "overlap"},
		{name: "long name", m: &Map{Name: "m", Fields: []KeyField{{Kind: KindIfname}}, Entries: []MapEntry{text("abcdefghijklmnop")}}, want: "at most 15"},
		{name: "source on a text field", m: &Map{Name: "m", Fields: []KeyField{{Kind: KindIfname, Source: true}}, Entries: []MapEntry{text("eth0")}}, want: "source"},
		{name: "text on an address", m: &Map{Name: "m", Fields: []KeyField{{Kind: KindIPv4, Source: true}}, Entries: []MapEntry{{Values: []KeyValue{{Text: "x"}}, Chain: "p_x"}}}, want: "text"},
		{name: "oifname", r: &Rule{Match: []Match{{Kind: MatchOifname, Name: "wg*"}}, Verdict: Verdict{Kind: Accept}}},
		{name: "bad oifname", r: &Rule{Match: []Match{{Kind: MatchOifname, Name: "w g"}}, Verdict: Verdict{Kind: Accept}}, want: "not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := &Ruleset{Chains: []*Chain{chain}}
			if tc.m != nil {
				rs.Maps = []*Map{tc.m}
			}
			if tc.r != nil {
				rs.Chains = []*Chain{{Name: "p_x", Rules: []*Rule{tc.r, {Verdict: Verdict{Kind: Accept}}}}}
			}
			err := Validate(rs)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// TestIfnameBounds: the kernel's interval of a name is the name itself, of
// a pattern every name that begins with its prefix.
func TestIfnameBounds(t *testing.T) {
	for _, tc := range []struct {
		s, name string
		want    bool
	}{
		{"veth*", "veth", true}, {"veth*", "veth0", true}, {"veth*", "vet", false}, {"veth*", "vetha", true},
		{"eth0", "eth0", true}, {"eth0", "eth00", false}, {"eth0", "eth", false},
	} {
		lo, hi := IfnameBounds(tc.s)
		var k [IfnameSize]byte
		copy(k[:], tc.name)
		in := string(k[:]) >= string(lo[:]) && string(k[:]) < string(hi[:])
		if in != tc.want || IfnameMatches(tc.s, tc.name) != tc.want {
			t.Errorf("%q holds %q: interval %v, IfnameMatches %v; want %v", tc.s, tc.name, in, IfnameMatches(tc.s, tc.name), tc.want)
		}
	}
}
