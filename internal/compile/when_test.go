package compile

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
)

// TestWindowTimes checks the UTC instants of windows in zones with DST
// (both transitions, a 30-minute DST, a DST gap and fold), an offset of
// +05:45, and windows crossing local and UTC midnight.
func TestWindowTimes(t *testing.T) {
	const (
		weekdays = 0b0111110 // mon-fri
		every    = 0b1111111
		fri      = 1 << time.Friday
		sun      = 1 << time.Sunday
		mon      = 1 << time.Monday
	)
	tests := []struct {
		name     string
		zone     string
		days     uint8
		spans    []policy.Span
		from, to string // UTC
		want     []string
	}{
		{
			name: "Berlin business hours across the spring DST change",
			zone: "Europe/Berlin", days: weekdays, spans: []policy.Span{{Start: 8 * 60, End: 18 * 60}},
			from: "2026-03-27 00:00", to: "2026-04-01 00:00",
			want: []string{
				"2026-03-27 07:00 - 2026-03-27 17:00", // CET, +01:00
				"2026-03-30 06:00 - 2026-03-30 16:00", // CEST, +02:00
				"2026-03-31 06:00 - 2026-03-31 16:00",
			},
		},
		{
			name: "Berlin business hours across the autumn DST change",
			zone: "Europe/Berlin", days: weekdays, spans: []policy.Span{{Start: 8 * 60, End: 18 * 60}},
			from: "2026-10-23 00:00", to: "2026-10-27 00:00",
			want: []string{
				"2026-10-23 06:00 - 2026-10-23 16:00", // CEST
				"2026-10-26 07:00 - 2026-10-26 17:00", // CET
			},
		},
		{
			name: "Berlin: a window starting in the spring gap opens when the clock jumps past it",
			zone: "Europe/Berlin", days: sun, spans: []policy.Span{{Start: 2*60 + 30, End: 3*60 + 30}},
			from: "2026-03-28 00:00", to: "2026-03-30 00:00",
			want: []string{"2026-03-29 01:00 - 2026-03-29 01:30"}, // 03:00-03:30 CEST
		},
		{
			name: "Berlin: the autumn fold belongs to the window both times",
			zone: "Europe/Berlin", days: sun, spans: []policy.Span{{Start: 1*60 + 30, End: 2*60 + 30}},
			from: "2026-10-24 00:00", to: "2026-10-26 00:00",
			// 01:30 CEST = 23:30 UTC, 02:00-02:30 twice: CEST 00:00-00:30 UTC, CET 01:00-01:30 UTC
			want: []string{"2026-10-24 23:30 - 2026-10-25 00:30", "2026-10-25 01:00 - 2026-10-25 01:30"},
		},
		{
			name: "Berlin: a window crossing midnight belongs to its start day",
			zone: "Europe/Berlin", days: fri, spans: []policy.Span{{Start: 22 * 60, End: 26 * 60}},
			from: "2026-12-03 00:00", to: "2026-12-07 00:00",
			want: []string{"2026-12-04 21:00 - 2026-12-05 01:00"},
		},
		{
			name: "New York business hours across the spring DST change",
			zone: "America/New_York", days: weekdays, spans: []policy.Span{{Start: 9 * 60, End: 17 * 60}},
			from: "2026-03-06 00:00", to: "2026-03-10 00:00",
			want: []string{"2026-03-06 14:00 - 2026-03-06 22:00", "2026-03-09 13:00 - 2026-03-09 21:00"},
		},
		{
			name: "New York business hours across the autumn DST change",
			zone: "America/New_York", days: weekdays, spans: []policy.Span{{Start: 9 * 60, End: 17 * 60}},
			from: "2026-10-30 00:00", to: "2026-11-03 00:00",
			want: []string{"2026-10-30 13:00 - 2026-10-30 21:00", "2026-11-02 14:00 - 2026-11-02 22:00"},
		},
		{
			name: "New York: a Friday evening window ends on Saturday in UTC",
			zone: "America/New_York", days: fri, spans: []policy.Span{{Start: 18 * 60, End: 22 * 60}},
			from: "2026-12-03 00:00", to: "2026-12-07 00:00",
			want: []string{"2026-12-04 23:00 - 2026-12-05 03:00"},
		},
		{
			name: "Lord Howe: the 30-minute DST ends in April",
			zone: "Australia/Lord_Howe", days: every, spans: []policy.Span{{Start: 8 * 60, End: 9 * 60}},
			from: "2026-04-03 12:00", to: "2026-04-05 12:00",
			want: []string{"2026-04-03 21:00 - 2026-04-03 22:00", "2026-04-04 21:30 - 2026-04-04 22:30"},
		},
		{
			name: "Lord Howe: the 30-minute DST begins in October, 02:00-02:30 does not exist",
			zone: "Australia/Lord_Howe", days: sun, spans: []policy.Span{{Start: 2 * 60, End: 3 * 60}},
			from: "2026-10-02 00:00", to: "2026-10-05 00:00",
			want: []string{"2026-10-03 15:30 - 2026-10-03 16:00"}, // 02:30-03:00 +11:00
		},
		{
			name: "Kathmandu +05:45 business hours",
			zone: "Asia/Kathmandu", days: mon, spans: []policy.Span{{Start: 9 * 60, End: 17 * 60}},
			from: "2026-12-06 00:00", to: "2026-12-09 00:00",
			want: []string{"2026-12-07 03:15 - 2026-12-07 11:15"},
		},
		{
			name: "Kathmandu: Monday's first hours are Sunday in UTC",
			zone: "Asia/Kathmandu", days: mon, spans: []policy.Span{{Start: 0, End: 6 * 60}},
			from: "2026-12-06 00:00", to: "2026-12-09 00:00",
			want: []string{"2026-12-06 18:15 - 2026-12-07 00:15"},
		},
		{
			name: "ranges are clipped to the horizon and merged across midnight",
			zone: "UTC", days: every, spans: []policy.Span{{Start: 22 * 60, End: 24 * 60}, {Start: 0, End: 2 * 60}},
			from: "2026-12-07 23:00", to: "2026-12-08 23:30",
			want: []string{"2026-12-07 23:00 - 2026-12-08 02:00", "2026-12-08 22:00 - 2026-12-08 23:30"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc, err := time.LoadLocation(tt.zone)
			if err != nil {
				t.Fatal(err)
			}
			w := &policy.When{Windows: []policy.Window{{Days: tt.days, Spans: tt.spans, Zone: tt.zone, Loc: loc}}}
			var got []string
			for _, r := range WindowTimes(w, utc(t, tt.from), utc(t, tt.to)) {
				got = append(got, fmtUTC(r.From)+" - "+fmtUTC(r.To))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("windows (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIntersectTimes(t *testing.T) {
	x := []ruleset.TimeRange{{From: 0, To: 10}, {From: 20, To: 30}}
	y := []ruleset.TimeRange{{From: 5, To: 25}, {From: 28, To: 40}}
	want := []ruleset.TimeRange{{From: 5, To: 10}, {From: 20, To: 25}, {From: 28, To: 30}}
	if diff := cmp.Diff(want, intersectTimes(x, y)); diff != "" {
		t.Errorf("intersect (-want +got):\n%s", diff)
	}
}

func utc(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func fmtUTC(ns int64) string { return time.Unix(0, ns).UTC().Format("2006-01-02 15:04") }
