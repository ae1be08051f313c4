package nft

import (
	"errors"
	"testing"
	"time"

	"github.com/leash-dev/leash/internal/ruleset"
	"golang.org/x/sys/unix"
)

// timeRuleset drops packets of fsuid 4242 while the kernel's clock is in
// one of ts.
func timeRuleset(ts []ruleset.TimeRange) *ruleset.Ruleset {
	return &ruleset.Ruleset{
		Sets: []*ruleset.Set{{Name: "w", Kind: ruleset.KindTime, Interval: true, Times: ts}},
		Maps: []*ruleset.Map{{Name: "users", Key: ruleset.KindUID, Entries: []ruleset.MapEntry{
			{Range: ruleset.Range{Lo: 4242, Hi: 4242}, Chain: "timed"}}}},
		Chains: []*ruleset.Chain{
			{Name: "timed", Rules: []*ruleset.Rule{{Match: []ruleset.Match{{Kind: ruleset.MatchTime, Set: "w"}},
				Verdict: ruleset.Verdict{Kind: ruleset.Drop}, Origin: ruleset.Origin{ID: "timed"}}}},
			{Name: "out", Hook: &ruleset.Hook{Hook: "output"}, Rules: []*ruleset.Rule{
				{Verdict: ruleset.Verdict{Kind: ruleset.VMap, Map: "users"}, Origin: ruleset.Origin{ID: "dispatch"}}}},
		},
	}
}

// TestTimeWindows: `meta time @SET` compares the kernel's wall clock (UTC
// nanoseconds) with the set's instants: a window around now drops, one that
// ended a minute ago and one that opens in a minute do not; the table reads
// back as applied (a window that never ends included).
func TestTimeWindows(t *testing.T) {
	ns, c := newNS(t)
	inNS(t, ns, "", "ip", "link", "set", "lo", "up")
	now := time.Now()
	ns0 := func(d time.Duration) int64 { return now.Add(d).UnixNano() }
	tests := []struct {
		name string
		ts   []ruleset.TimeRange
		drop bool
	}{
		{"open now", []ruleset.TimeRange{{From: ns0(-time.Hour), To: ns0(-time.Minute)}, {From: ns0(-time.Second), To: ns0(time.Hour)}}, true},
		{"ended a minute ago", []ruleset.TimeRange{{From: ns0(-time.Hour), To: ns0(-time.Minute)}}, false},
		{"opens in a minute, never ends", []ruleset.TimeRange{{From: ns0(time.Minute), To: ruleset.Forever}}, false},
		{"opened, never ends", []ruleset.TimeRange{{From: ns0(-time.Minute), To: ruleset.Forever}}, true},
		{"empty", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := timeRuleset(tt.ts)
			if err := c.Apply(rs); err != nil {
				t.Fatal(err)
			}
			var sent error
			if err := ns.Do(func() error {
				unix.Setfsuid(4242)
				sent = sendUDP("127.0.0.1:9")
				unix.Setfsuid(0)
				if prev, _, _ := unix.RawSyscall(unix.SYS_SETFSUID, 0, 0, 0); prev != 0 {
					return errors.New("could not restore fsuid 0")
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if dropped := errors.Is(sent, unix.EPERM); dropped != tt.drop {
				t.Errorf("send as fsuid 4242: %v, want dropped %v", sent, tt.drop)
			}
			requireReadsBack(t, c, rs, "Read after Apply")
		})
	}
}
