package ruleset

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// cgroupMapSample is a live cgroup verdict map with two elements and the
// rule that looks it up.
func cgroupMapSample() *Ruleset {
	m := &Set{Name: "cgmap2", Kind: KindCgroup, Live: &Live{Source: "cgroups:governed:2", Verdicts: true}}
	m.SetElements([]Element{{Cgroup: 1 << 40, ElementState: ElementState{Chain: "p_web"}}, {Cgroup: 7, ElementState: ElementState{Chain: "p_db"}}})
	return &Ruleset{
		Sets: []*Set{m},
		Chains: []*Chain{
			{Name: "output", Hook: &Hook{Hook: "output"}, Rules: []*Rule{
				{Verdict: Verdict{Kind: VMap, Map: "cgmap2", Level: 2}, Origin: Origin{ID: "dispatch/cgroups"}},
			}},
			{Name: "p_web", Rules: []*Rule{{Verdict: Verdict{Kind: Drop}, Origin: Origin{ID: "web/default"}}}},
			{Name: "p_db", Rules: []*Rule{{Verdict: Verdict{Kind: Drop}, Origin: Origin{ID: "db/default"}}}},
		},
	}
}

func TestLiveMapText(t *testing.T) {
	got := Text(cgroupMapSample(), TextOptions{})
	want := `table inet leash {
	map cgmap2 {
		type cgroupsv2 : verdict
		comment "cgroups:governed:2"
		# cgroup ids: 7 : jump p_db, 1099511627776 : jump p_web
	}

	chain output {
		type filter hook output priority filter; policy accept;
		counter socket cgroupv2 level 2 vmap @cgmap2 comment "dispatch/cgroups"
	}
`
	if !strings.HasPrefix(got, want) {
		t.Errorf("Text:\n%s\nwant it to start with:\n%s", got, want)
	}
	op := ElementOp{Set: "cgmap2", Elem: Element{Cgroup: 9, ElementState: ElementState{Chain: "p_web"}}}
	if diff := cmp.Diff("add element inet leash cgmap2 { 9 : jump p_web }", op.String()); diff != "" {
		t.Errorf("ElementOp.String (-want +got):\n%s", diff)
	}
}

func TestValidateLiveMap(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(rs *Ruleset)
		wantErr string
	}{
		{"valid", func(*Ruleset) {}, ""},
		{"element without chain", func(rs *Ruleset) { rs.Sets[0].State[0].Chain = "" }, "needs the chain"},
		{"missing chain", func(rs *Ruleset) { rs.Sets[0].State[0].Chain = "p_gone" }, `chain "p_gone" does not exist`},
		{"base chain", func(rs *Ruleset) { rs.Sets[0].State[0].Chain = "output" }, "base chain"},
		{"address keys", func(rs *Ruleset) {
			rs.Sets[0].Kind, rs.Sets[0].Cgroups, rs.Sets[0].State = KindIPv4, nil, nil
		}, "keyed by cgroupsv2"},
		{"timeout", func(rs *Ruleset) { rs.Sets[0].Live.Timeout = 1e9 }, "no timeout"},
		{"no level", func(rs *Ruleset) { rs.Chains[0].Rules[0].Verdict.Level = 0 }, "level 0"},
		{"vmap on a set", func(rs *Ruleset) { rs.Sets[0].Live.Verdicts = false; rs.Sets[0].State = nil }, "is a set, not a map"},
		{"chain in a set", func(rs *Ruleset) { rs.Sets[0].Live.Verdicts = false; rs.Chains[0].Rules = nil }, "jumps nowhere"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := cgroupMapSample()
			tt.edit(rs)
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

func TestValidateLiveMapOp(t *testing.T) {
	rs := cgroupMapSample()
	tests := []struct {
		name    string
		op      ElementOp
		wantErr string
	}{
		{"add", ElementOp{Set: "cgmap2", Elem: Element{Cgroup: 9, ElementState: ElementState{Chain: "p_web"}}}, ""},
		{"delete", ElementOp{Set: "cgmap2", Delete: true, Elem: Element{Cgroup: 9}}, ""},
		{"add without chain", ElementOp{Set: "cgmap2", Elem: Element{Cgroup: 9}}, "needs the chain"},
		{"delete with chain", ElementOp{Set: "cgmap2", Delete: true, Elem: Element{Cgroup: 9, ElementState: ElementState{Chain: "p_web"}}}, "key alone"},
		{"bad chain name", ElementOp{Set: "cgmap2", Elem: Element{Cgroup: 9, ElementState: ElementState{Chain: "a b"}}}, "not a chain name"},
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
	set := &Set{Name: "s", Kind: KindCgroup, Live: &Live{Source: "x"}}
	if SameLive(rs.Sets[0], set) {
		t.Error("SameLive of a map and a set = true")
	}
}
