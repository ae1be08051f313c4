package ruleset

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestElementsDiff(t *testing.T) {
	pfx := func(ss ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, s := range ss {
			out = append(out, netip.MustParsePrefix(s))
		}
		return out
	}
	v4 := func(ps ...string) *Set { return &Set{Name: "p_r1_v4", Kind: KindIPv4, Prefixes: pfx(ps...)} }
	iv4 := func(ps ...string) *Set {
		return &Set{Name: "p_r2_v4", Kind: KindIPv4, Interval: true, Prefixes: pfx(ps...)}
	}
	fields := []KeyField{{Kind: KindIPv4}, {Kind: KindProto}, {Kind: KindPort}}
	entry := func(addr string, port uint32, chain string) MapEntry {
		return MapEntry{Values: []KeyValue{{Prefix: netip.MustParsePrefix(addr)}, {Range: Range{6, 6}}, {Range: Range{port, port}}}, Chain: chain}
	}
	vmap := func(es ...MapEntry) *Map { return &Map{Name: "p_m1_v4", Fields: fields, Entries: es} }
	chains := func(set string) []*Chain {
		return []*Chain{{Name: "p", Rules: []*Rule{{Match: []Match{{Kind: MatchDaddr, Set: set}}, Verdict: Verdict{Kind: Accept}}}}}
	}
	withFile := func(cs []*Chain, file string) []*Chain {
		cs[0].Rules[0].Origin.File = file
		return cs
	}
	withLine := func(cs []*Chain, line int) []*Chain {
		cs[0].Rules[0].Origin.Line = line
		return cs
	}
	table := func(sets []*Set, maps []*Map, ch []*Chain) *Ruleset {
		return &Ruleset{Sets: sets, Maps: maps, Chains: ch}
	}
	for _, tc := range []struct {
		name      string
		old, next *Ruleset
		want      *ElementsUpdate
		ok        bool
	}{
		{
			name: "equal tables: an empty update",
			old:  table([]*Set{v4("192.0.2.1/32")}, nil, chains("p_r1_v4")),
			next: table([]*Set{v4("192.0.2.1/32")}, nil, chains("p_r1_v4")),
			want: &ElementsUpdate{}, ok: true,
		},
		{
			name: "a hash set's address changes: delete the old, add the new",
			old:  table([]*Set{v4("192.0.2.1/32", "192.0.2.9/32")}, nil, chains("p_r1_v4")),
			next: table([]*Set{v4("192.0.2.2/32", "192.0.2.9/32")}, nil, chains("p_r1_v4")),
			want: &ElementsUpdate{Sets: []SetUpdate{{Del: v4("192.0.2.1/32"), Add: v4("192.0.2.2/32")}}}, ok: true,
		},
		{
			name: "an address added only",
			old:  table([]*Set{v4("192.0.2.1/32")}, nil, chains("p_r1_v4")),
			next: table([]*Set{v4("192.0.2.1/32", "192.0.2.3/32")}, nil, chains("p_r1_v4")),
			want: &ElementsUpdate{Sets: []SetUpdate{{Add: v4("192.0.2.3/32")}}}, ok: true,
		},
		{
			name: "an interval set is replaced whole (flush, then all its elements)",
			old:  table([]*Set{iv4("10.0.0.0/8", "192.0.2.1/32")}, nil, chains("p_r2_v4")),
			next: table([]*Set{iv4("10.0.0.0/8", "192.0.2.2/32")}, nil, chains("p_r2_v4")),
			want: &ElementsUpdate{Sets: []SetUpdate{{Flush: true, Add: iv4("10.0.0.0/8", "192.0.2.2/32")}}}, ok: true,
		},
		{
			name: "a verdict map's entries: by key, a changed jump is deleted and added",
			old:  table(nil, []*Map{vmap(entry("192.0.2.1/32", 25, "p.r1"), entry("192.0.2.2/32", 25, "p.r1"), entry("192.0.2.3/32", 443, "p.r1"))}, chains("x")),
			next: table(nil, []*Map{vmap(entry("192.0.2.2/32", 25, "p.r1"), entry("192.0.2.3/32", 443, "p.r3"), entry("192.0.2.4/32", 25, "p.r1"))}, chains("x")),
			want: &ElementsUpdate{Maps: []MapUpdate{{
				Del: vmap(entry("192.0.2.1/32", 25, "p.r1"), entry("192.0.2.3/32", 443, "p.r1")),
				Add: vmap(entry("192.0.2.3/32", 443, "p.r3"), entry("192.0.2.4/32", 25, "p.r1")),
			}}}, ok: true,
		},
		{
			name: "live sets' elements are the engine's: not compared",
			old:  table([]*Set{{Name: "l", Kind: KindIPv4, Live: &Live{Source: "unit:x"}, Prefixes: pfx("192.0.2.1/32")}}, nil, chains("l")),
			next: table([]*Set{{Name: "l", Kind: KindIPv4, Live: &Live{Source: "unit:x"}}}, nil, chains("l")),
			want: &ElementsUpdate{}, ok: true,
		},
		{
			name: "origins naming the policy file otherwise (relative at apply, absolute when recompiled) are the same rules",
			old:  table([]*Set{v4("192.0.2.1/32")}, nil, withFile(chains("p_r1_v4"), "mail.yaml")),
			next: table([]*Set{v4("192.0.2.2/32")}, nil, withFile(chains("p_r1_v4"), "/etc/leash/mail.yaml")),
			want: &ElementsUpdate{Sets: []SetUpdate{{Del: v4("192.0.2.1/32"), Add: v4("192.0.2.2/32")}}}, ok: true,
		},
		{
			name: "a rule's position changes: the layout changed",
			old:  table([]*Set{v4("192.0.2.1/32")}, nil, withLine(chains("p_r1_v4"), 3)),
			next: table([]*Set{v4("192.0.2.1/32")}, nil, withLine(chains("p_r1_v4"), 4)),
		},
		{
			name: "a rule changes: the layout changed",
			old:  table([]*Set{v4("192.0.2.1/32")}, nil, chains("p_r1_v4")),
			next: table([]*Set{v4("192.0.2.1/32")}, nil, chains("p_r9_v4")),
		},
		{
			name: "a set appears: the layout changed",
			old:  table([]*Set{v4("192.0.2.1/32")}, nil, chains("p_r1_v4")),
			next: table([]*Set{v4("192.0.2.1/32"), iv4("10.0.0.0/8")}, nil, chains("p_r1_v4")),
		},
		{
			name: "a set becomes an interval set: the layout changed",
			old:  table([]*Set{v4("192.0.2.1/32")}, nil, chains("p_r1_v4")),
			next: table([]*Set{{Name: "p_r1_v4", Kind: KindIPv4, Interval: true, Prefixes: pfx("192.0.2.0/31")}}, nil, chains("p_r1_v4")),
		},
		{
			name: "a map's key changes: the layout changed",
			old:  table(nil, []*Map{vmap(entry("192.0.2.1/32", 25, "p.r1"))}, chains("x")),
			next: table(nil, []*Map{{Name: "p_m1_v4", Fields: []KeyField{{Kind: KindIPv4, Mask: 24}, {Kind: KindProto}, {Kind: KindPort}}}}, chains("x")),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ElementsDiff(tc.old, tc.next)
			if ok != tc.ok {
				t.Fatalf("ok = %t, want %t", ok, tc.ok)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty(), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
				t.Errorf("update (-want +got):\n%s", diff)
			}
			if !ok {
				return
			}
			// The update takes old's elements to next's.
			applied := Canonical(tc.old)
			if err := got.Apply(applied); err != nil {
				t.Fatal(err)
			}
			if u, _ := ElementsDiff(applied, tc.next); !u.Empty() {
				t.Errorf("old with the update applied still differs from next:\n%s", u)
			}
		})
	}
}
