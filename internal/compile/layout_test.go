package compile

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/leash-dev/leash/internal/ruleset"
)

var pfx = netip.MustParsePrefix

// many returns n disjoint prefixes of length bits in 10.0.0.0/8, every
// other one (10.0.0.0/28, 10.0.0.32/28, ...).
func many(n, bits int) []netip.Prefix {
	var out []netip.Prefix
	for i := range n {
		v := uint32(10<<24) + uint32(i)*2<<(32-bits)
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), bits))
	}
	return out
}

func TestSplitPrefixes(t *testing.T) {
	type part struct {
		Mask     uint8
		Interval bool
		N        int
		Suffix   string
	}
	tests := []struct {
		name string
		in   []netip.Prefix
		want []part
	}{
		{name: "empty"},
		{name: "single addresses: hash, no mask", in: []netip.Prefix{pfx("192.0.2.1/32"), pfx("192.0.2.9/32")},
			want: []part{{N: 2}}},
		{name: "few of one length: interval", in: many(3, 28), want: []part{{Interval: true, N: 3}}},
		{name: "many of one length: hash with mask", in: many(hashGroupMin, 28), want: []part{{Mask: 28, N: hashGroupMin, Suffix: "_28"}}},
		{name: "single v6 addresses", in: []netip.Prefix{pfx("2001:db8::1/128"), pfx("2001:db8::2/128")}, want: []part{{N: 2}}},
		{name: "few mixed: one interval set", in: []netip.Prefix{pfx("10.0.0.0/8"), pfx("192.168.0.0/16")},
			want: []part{{Interval: true, N: 2}}},
		{name: "everything: interval (no /0 mask)", in: []netip.Prefix{pfx("0.0.0.0/0")}, want: []part{{Interval: true, N: 1}}},
		{name: "big group hashed, rest interval", in: append(many(100, 28), pfx("192.168.0.0/16")),
			want: []part{{Mask: 28, N: 100, Suffix: "_28"}, {Interval: true, N: 1}}},
		{name: "groups below the threshold stay in the interval set", in: append(many(hashGroupMin-1, 28), pfx("192.168.0.0/16")),
			want: []part{{Interval: true, N: hashGroupMin}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []part
			for _, p := range splitPrefixes(tt.in) {
				got = append(got, part{Mask: p.mask, Interval: p.interval, N: len(p.elems), Suffix: p.suffix})
				for _, e := range p.elems {
					if !p.interval && !e.IsSingleIP() {
						t.Errorf("hash part holds %v, want single addresses", e)
					}
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("splitPrefixes (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSplitPrefixesBoundsLookups: many distinct lengths give at most
// maxHashGroups hash sets plus one interval set, and every input address
// is in exactly one part.
func TestSplitPrefixesBoundsLookups(t *testing.T) {
	var in []netip.Prefix
	for bits := 20; bits <= 27; bits++ { // 8 lengths, 64+ prefixes each, disjoint blocks
		base := uint32(bits-19) << 24
		for i := range hashGroupMin + bits {
			v := base + uint32(i)*2<<(32-bits)
			in = append(in, netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), bits))
		}
	}
	parts := splitPrefixes(in)
	if len(parts) != maxHashGroups+1 {
		t.Fatalf("%d parts, want %d", len(parts), maxHashGroups+1)
	}
	count := 0
	for _, p := range parts {
		count += len(p.elems)
	}
	if count != len(in) {
		t.Errorf("parts hold %d prefixes, input has %d", count, len(in))
	}
	if got := parts[0].suffix + " " + parts[maxHashGroups-1].suffix; got != "_24 _27" {
		t.Errorf("hashed lengths %s, want the biggest groups _24 .. _27", got)
	}
}

func TestNumLayout(t *testing.T) {
	r := func(lo, hi uint32) ruleset.Range { return ruleset.Range{Lo: lo, Hi: hi} }
	tests := []struct {
		name         string
		in           []ruleset.Range
		want         []ruleset.Range
		wantInterval bool
	}{
		{name: "singles", in: []ruleset.Range{r(25, 25), r(143, 143)}, want: []ruleset.Range{r(25, 25), r(143, 143)}},
		{name: "small range expanded", in: []ruleset.Range{r(130, 132)}, want: []ruleset.Range{r(130, 130), r(131, 131), r(132, 132)}},
		{name: "wide range keeps interval", in: []ruleset.Range{r(22, 22), r(1024, 65535)}, want: []ruleset.Range{r(22, 22), r(1024, 65535)}, wantInterval: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, interval := numLayout(tt.in)
			if diff := cmp.Diff(tt.want, got); diff != "" || interval != tt.wantInterval {
				t.Errorf("numLayout interval=%t (want %t) (-want +got):\n%s", interval, tt.wantInterval, diff)
			}
		})
	}
}

func TestSplitEntries(t *testing.T) {
	e := func(lo, hi uint32, c string) ruleset.MapEntry {
		return ruleset.MapEntry{Range: ruleset.Range{Lo: lo, Hi: hi}, Chain: c}
	}
	single, wide := splitEntries([]ruleset.MapEntry{e(1000, 1001, "a"), e(2000, 2999, "b"), e(4294967295, 4294967295, "c")})
	if diff := cmp.Diff([]ruleset.MapEntry{e(1000, 1000, "a"), e(1001, 1001, "a"), e(4294967295, 4294967295, "c")}, single); diff != "" {
		t.Errorf("single (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]ruleset.MapEntry{e(2000, 2999, "b")}, wide); diff != "" {
		t.Errorf("wide (-want +got):\n%s", diff)
	}
}
