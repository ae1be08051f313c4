package policy

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestWhen checks how `when` values resolve.
func TestWhen(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		when string
		want []Window
	}{
		{
			name: "business hours in a zone",
			when: `{days: [mon-fri], hours: ["08:00-18:00"], zone: Europe/Berlin}`,
			want: []Window{{Days: 0b0111110, Spans: []Span{{Start: 480, End: 1080}}, Zone: "Europe/Berlin", Loc: berlin}},
		},
		{
			name: "crossing midnight, a wrapping day range, 24:00, the host zone",
			when: `{days: [fri-mon, wed], hours: ["22:00-06:00", "12:00-24:00"]}`,
			want: []Window{{Days: 0b1101011, Spans: []Span{{Start: 1320, End: 1800}, {Start: 720, End: 1440}}, Loc: time.UTC}},
		},
		{
			name: "a list of windows, dates, every day all day",
			when: `[{from: 2026-12-01, until: 2026-12-24}, {days: [sun]}]`,
			want: []Window{
				{Days: 0x7f, Spans: []Span{{Start: 0, End: 1440}}, Loc: time.UTC, From: civilDate{2026, 12, 1}, Until: civilDate{2026, 12, 24}},
				{Days: 1, Spans: []Span{{Start: 0, End: 1440}}, Loc: time.UTC},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "version: 1\npolicies:\n  - name: p\n    users: [1000]\n    default: deny\n    rules:\n      - allow: {when: " + tt.when + "}\n"
			env := testEnv()
			env.Zone = time.UTC
			r, err := Load(context.Background(), "f.yaml", []byte(src), env)
			if err != nil {
				t.Fatal(err)
			}
			got := r.Policies[0].Rules[0].When.Windows
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b *time.Location) bool { return a.String() == b.String() }), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("windows (-want +got):\n%s", diff)
			}
			if r.At.IsZero() {
				t.Error("Resolved.At is not set for a file with windows")
			}
		})
	}
}

func TestParseAt(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		err  bool
	}{
		{in: "2026-12-07 17:59 Europe/Berlin", want: time.Date(2026, 12, 7, 16, 59, 0, 0, time.UTC)},
		{in: "2026-07-07 17:59:30 Europe/Berlin", want: time.Date(2026, 7, 7, 15, 59, 30, 0, time.UTC)},
		{in: "2026-12-07 17:59", want: time.Date(2026, 12, 7, 17, 59, 0, 0, time.UTC)},
		{in: "2026-12-07T17:59:00+05:45", want: time.Date(2026, 12, 7, 12, 14, 0, 0, time.UTC)},
		{in: "2026-12-07 17:59 Europe/Berln", err: true},
		{in: "17:59", err: true},
	}
	for _, tt := range tests {
		got, err := ParseAt(tt.in, time.UTC)
		if (err != nil) != tt.err {
			t.Errorf("ParseAt(%q): error %v, want error %v", tt.in, err, tt.err)
			continue
		}
		if !tt.err && !got.Equal(tt.want) {
			t.Errorf("ParseAt(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
