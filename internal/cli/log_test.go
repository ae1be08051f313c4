package cli

import (
	"testing"
	"time"
)

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		in      string
		want    time.Time
		wantErr bool
	}{
		{name: "empty is everything", in: "", want: time.Time{}},
		{name: "minutes", in: "10m", want: now.Add(-10 * time.Minute)},
		{name: "hours and minutes", in: "1h30m", want: now.Add(-90 * time.Minute)},
		{name: "RFC 3339", in: "2026-11-21T08:00:00Z", want: time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)},
		{name: "RFC 3339 with offset", in: "2026-11-21T09:00:00+01:00", want: time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)},
		{name: "negative duration", in: "-5m", wantErr: true},
		{name: "a date alone", in: "2026-11-21", wantErr: true},
		{name: "words", in: "yesterday", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSince(tt.in, now)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseSince(%q): err = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if err == nil && !got.Equal(tt.want) {
				t.Errorf("parseSince(%q) = %v, want %v", tt.in, got, tt.want)
			}
			if err != nil && ExitCode(err) != 2 {
				t.Errorf("parseSince(%q): exit code %d, want 2 (usage)", tt.in, ExitCode(err))
			}
		})
	}
}
