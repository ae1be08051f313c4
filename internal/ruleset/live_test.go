package ruleset

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func liveSet() *Set {
	s := &Set{Name: "mail4", Kind: KindIPv4, Live: &Live{Timeout: time.Hour, Size: 8, Counters: true, Source: SourceHost("mail.example.com")}}
	s.SetElements([]Element{
		{Addr: netip.MustParseAddr("192.0.2.2")},
		{Addr: netip.MustParseAddr("192.0.2.1"), ElementState: ElementState{Timeout: 90 * time.Second, Packets: 3, Bytes: 180}},
	})
	return s
}

func TestValidateLive(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(s *Set)
		wantErr string
	}{
		{"valid", func(*Set) {}, ""},
		{"cgroups", func(s *Set) { s.Kind, s.Prefixes, s.State, s.Cgroups = KindCgroup, nil, nil, []uint64{1, 1 << 63} }, ""},
		{"interval", func(s *Set) { s.Interval = true }, "hash set"},
		{"port kind", func(s *Set) { s.Kind, s.Prefixes, s.State = KindPort, nil, nil }, "live set holds"},
		{"no source", func(s *Set) { s.Live.Source = "" }, "source"},
		{"quote in source", func(s *Set) { s.Live.Source = `a"b` }, "source"},
		{"sub-millisecond timeout", func(s *Set) { s.Live.Timeout = time.Microsecond }, "milliseconds"},
		{"prefix, not an address", func(s *Set) { s.Prefixes[0] = netip.MustParsePrefix("10.0.0.0/24") }, "single addresses"},
		{"v6 in v4", func(s *Set) { s.Prefixes[0] = netip.MustParsePrefix("2001:db8::1/128") }, "does not fit"},
		{"cgroups in address set", func(s *Set) { s.State = nil; s.Cgroups = []uint64{1} }, "not cgroup ids"},
		{"addresses in cgroup set", func(s *Set) { s.Kind = KindCgroup }, "not prefixes"},
		{"unsorted cgroups", func(s *Set) { s.Kind, s.Prefixes, s.State, s.Cgroups = KindCgroup, nil, nil, []uint64{2, 1} }, "out of order"},
		{"state misaligned", func(s *Set) { s.State = s.State[:1] }, "1 element states for 2"},
		{"over size", func(s *Set) { s.Live.Size = 1 }, "more than its size"},
		{"element timeout without set timeout", func(s *Set) { s.Live.Timeout = 0 }, "has a timeout"},
		{"counters on a set that does not count", func(s *Set) { s.Live.Counters = false }, "does not count"},
		{"cgroup ids in a static set", func(s *Set) { s.Live, s.State, s.Prefixes, s.Cgroups = nil, nil, nil, []uint64{1} }, "live sets only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := liveSet()
			tt.mutate(s)
			err := Validate(&Ruleset{Sets: []*Set{s}})
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Validate = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestLiveElements(t *testing.T) {
	s := liveSet()
	got := s.Elements()
	want := []Element{
		{Addr: netip.MustParseAddr("192.0.2.1"), ElementState: ElementState{Timeout: 90 * time.Second, Packets: 3, Bytes: 180}},
		{Addr: netip.MustParseAddr("192.0.2.2")},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("Elements (-want +got):\n%s", diff)
	}
	d := s.Declaration()
	if len(d.Prefixes)+len(d.State) != 0 || *d.Live != *s.Live || len(s.Prefixes) != 2 {
		t.Errorf("Declaration = %+v (and s changed: %v)", d, len(s.Prefixes) != 2)
	}
	s.SetElements(append(got, Element{Addr: netip.MustParseAddr("192.0.2.1")})) // a repeated key keeps its last state
	if s.Elements()[0].Packets != 0 || len(s.Elements()) != 2 {
		t.Errorf("after SetElements with a repeated key: %+v", s.Elements())
	}
}

// TestLiveText: the declaration in the order nft 1.0.6 lists it, elements
// with their own timeouts (counters are not nft input), cgroup ids in a
// comment.
func TestLiveText(t *testing.T) {
	cg := &Set{Name: "units", Kind: KindCgroup, Live: &Live{Source: "unit:mail.service"}, Cgroups: []uint64{7, 1 << 40}}
	got := Text(&Ruleset{Sets: []*Set{liveSet(), cg}}, TextOptions{})
	want := `table inet leash {
	set mail4 {
		type ipv4_addr
		size 8
		flags timeout
		counter
		timeout 1h
		comment "host:mail.example.com"
		elements = { 192.0.2.1 timeout 1m30s, 192.0.2.2 }
	}
	set units {
		type cgroupsv2
		comment "unit:mail.service"
		# cgroup ids: 7, 1099511627776
	}
}
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Text (-want +got):\n%s", diff)
	}
}

func TestValidateOp(t *testing.T) {
	rs := &Ruleset{Sets: []*Set{liveSet(), {Name: "static4", Kind: KindIPv4}}}
	a := netip.MustParseAddr("192.0.2.9")
	tests := []struct {
		name    string
		op      ElementOp
		wantErr string
	}{
		{"add", ElementOp{Set: "mail4", Elem: Element{Addr: a, ElementState: ElementState{Timeout: time.Minute}}}, ""},
		{"delete", ElementOp{Set: "mail4", Delete: true, Elem: Element{Addr: a}}, ""},
		{"missing set", ElementOp{Set: "nope", Elem: Element{Addr: a}}, "no set nope"},
		{"static set", ElementOp{Set: "static4", Elem: Element{Addr: a}}, "not a live set"},
		{"wrong family", ElementOp{Set: "mail4", Elem: Element{Addr: netip.MustParseAddr("::1")}}, "does not fit"},
		{"mapped v4", ElementOp{Set: "mail4", Elem: Element{Addr: netip.MustParseAddr("::ffff:192.0.2.1")}}, "does not fit"},
		{"cgroup in address set", ElementOp{Set: "mail4", Elem: Element{Cgroup: 5}}, "does not fit"},
		{"timeout on delete", ElementOp{Set: "mail4", Delete: true, Elem: Element{Addr: a, ElementState: ElementState{Timeout: time.Second}}}, "timeout needs"},
		{"counters given", ElementOp{Set: "mail4", Elem: Element{Addr: a, ElementState: ElementState{Packets: 1}}}, "kernel's"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateOp(rs, tt.op)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("ValidateOp = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("ValidateOp = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
	if got := (ElementOp{Set: "mail4", Elem: Element{Addr: a, ElementState: ElementState{Timeout: 25 * time.Hour}}}).String(); got != "add element inet leash mail4 { 192.0.2.9 timeout 1d1h }" {
		t.Errorf("String = %q", got)
	}
}
