package compile

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/leash-dev/leash/internal/ruleset"
)

func TestSetIndexSharesIdenticalSets(t *testing.T) {
	c := &compiler{rs: &ruleset.Ruleset{}, sets: newSetIndex()}
	lan := func() addrPart { // a fresh slice each time: content decides, not identity
		return addrPart{interval: true, elems: []netip.Prefix{pfx("10.0.0.0/8"), pfx("192.168.0.0/16")}}
	}
	tests := []struct {
		name string
		add  func() string
		want string
	}{
		{name: "first address set", add: func() string { return c.addrSet("a_r1_v4", ruleset.KindIPv4, lan()) }, want: "a_r1_v4"},
		{name: "same list in another policy", add: func() string { return c.addrSet("b_r1_v4", ruleset.KindIPv4, lan()) }, want: "a_r1_v4"},
		{name: "other elements", add: func() string {
			return c.addrSet("c_r1_v4", ruleset.KindIPv4, addrPart{interval: true, elems: []netip.Prefix{pfx("10.0.0.0/8")}})
		}, want: "c_r1_v4"},
		{name: "same elements, hash layout with a mask", add: func() string {
			return c.addrSet("d_r1_v4", ruleset.KindIPv4, addrPart{mask: 8, elems: []netip.Prefix{pfx("10.0.0.0/8"), pfx("192.168.0.0/16")}})
		}, want: "d_r1_v4"},
		{name: "first tcp port set", add: func() string { return c.numSet("a_r2_tcp", ruleset.KindPort, []ruleset.Range{{Lo: 25, Hi: 25}}) }, want: "a_r2_tcp"},
		{name: "same ports, tcp again", add: func() string { return c.numSet("b_r2_tcp", ruleset.KindPort, []ruleset.Range{{Lo: 25, Hi: 25}}) }, want: "a_r2_tcp"},
		{name: "same ports, udp: its own set", add: func() string { return c.numSet("b_r2_udp", ruleset.KindPort, []ruleset.Range{{Lo: 25, Hi: 25}}) }, want: "b_r2_udp"},
	}
	for _, tt := range tests {
		if got := tt.add(); got != tt.want {
			t.Errorf("%s: set name %q, want %q", tt.name, got, tt.want)
		}
	}
	var names []string
	for _, s := range c.rs.Sets {
		names = append(names, s.Name)
	}
	if diff := cmp.Diff([]string{"a_r1_v4", "c_r1_v4", "d_r1_v4", "a_r2_tcp", "b_r2_udp"}, names); diff != "" {
		t.Errorf("sets in the ruleset (-want +got):\n%s", diff)
	}
}

// A hash collision must never merge two different sets: the elements are
// compared.
func TestSetIndexCollision(t *testing.T) {
	x := newSetIndex()
	rs := &ruleset.Ruleset{}
	s := &ruleset.Set{Name: "new", Kind: ruleset.KindIPv4, Prefixes: []netip.Prefix{pfx("192.0.2.1/32")}}
	k := setKey{kind: ruleset.KindIPv4}
	collided := k
	collided.sum = x.sumSet(s)
	x.sets[collided] = []*ruleset.Set{{Name: "other", Kind: ruleset.KindIPv4, Prefixes: []netip.Prefix{pfx("198.51.100.1/32")}}}
	if got := x.add(rs, k, s); got != "new" {
		t.Errorf("add with a colliding hash returned %q, want the new set", got)
	}
	if len(rs.Sets) != 1 || rs.Sets[0] != s {
		t.Errorf("ruleset sets = %v, want just the new one", rs.Sets)
	}
}

func TestLayoutMemo(t *testing.T) {
	x := newSetIndex()
	a := x.layout(many(hashGroupMin, 24))
	b := x.layout(many(hashGroupMin, 24)) // equal content, another slice
	if diff := cmp.Diff(a, b, cmp.AllowUnexported(addrPart{}), cmp.Comparer(func(p, q netip.Prefix) bool { return p == q })); diff != "" {
		t.Errorf("same list laid out twice differs (-first +second):\n%s", diff)
	}
	if len(a) != 1 || a[0].mask != 24 {
		t.Fatalf("layout of %d /24s = %+v, want one hash part masked to /24", hashGroupMin, a)
	}
	c := x.layout(many(2, 24))
	if len(c) != 1 || !c[0].interval || len(c[0].elems) != 2 {
		t.Errorf("layout of 2 /24s after the memo = %+v, want its own interval part", c)
	}
}
