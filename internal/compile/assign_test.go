package compile

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/leash-dev/leash/internal/ruleset"
)

func TestAssign(t *testing.T) {
	e := func(lo, hi uint32, chain string) ruleset.MapEntry {
		return ruleset.MapEntry{Range: ruleset.Range{Lo: lo, Hi: hi}, Chain: chain}
	}
	tests := []struct {
		name string
		segs []segment
		want []ruleset.MapEntry
	}{
		{name: "empty", segs: nil, want: nil},
		{
			name: "disjoint singles are kept apart",
			segs: []segment{{lo: 5, hi: 5, rank: 0, chain: "a"}, {lo: 1, hi: 1, rank: 1, chain: "b"}},
			want: []ruleset.MapEntry{e(1, 1, "b"), e(5, 5, "a")},
		},
		{
			name: "adjacent ids of one chain merge",
			segs: []segment{{lo: 1, hi: 1, chain: "a"}, {lo: 2, hi: 2, chain: "a"}, {lo: 3, hi: 9, chain: "a"}},
			want: []ruleset.MapEntry{e(1, 9, "a")},
		},
		{
			name: "lower rank wins inside a range, range resumes after",
			segs: []segment{{lo: 2000, hi: 2999, rank: 5, chain: "members"}, {lo: 2500, hi: 2500, rank: 1, chain: "user"}},
			want: []ruleset.MapEntry{e(2000, 2499, "members"), e(2500, 2500, "user"), e(2501, 2999, "members")},
		},
		{
			name: "higher rank never overrides",
			segs: []segment{{lo: 10, hi: 20, rank: 0, chain: "a"}, {lo: 15, hi: 30, rank: 1, chain: "b"}},
			want: []ruleset.MapEntry{e(10, 20, "a"), e(21, 30, "b")},
		},
		{
			name: "top of the uid space does not overflow",
			segs: []segment{{lo: 4294967290, hi: 4294967295, rank: 0, chain: "a"}, {lo: 0, hi: 0, rank: 0, chain: "root"}},
			want: []ruleset.MapEntry{e(0, 0, "root"), e(4294967290, 4294967295, "a")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, assign(tt.segs)); diff != "" {
				t.Errorf("assign() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func BenchmarkAssign100kUsers(b *testing.B) {
	segs := make([]segment, 100000)
	for i := range segs {
		segs[i] = segment{lo: uint32(10000 + 2*i), hi: uint32(10000 + 2*i), rank: i % 3, chain: "p"}
	}
	b.ResetTimer()
	for b.Loop() {
		assign(append([]segment(nil), segs...))
	}
}
