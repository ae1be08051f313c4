package nft

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/leash-dev/leash/internal/ruleset"
	"golang.org/x/sys/unix"
)

// meterRuleset accepts new flows of fsuids 4242-4244 within the meter
// match m (on a meter of 2 uids), drops the other new ones.
func meterRuleset(m ruleset.Match, timeout time.Duration) *ruleset.Ruleset {
	return &ruleset.Ruleset{
		Sets: []*ruleset.Set{{Name: "lim", Kind: ruleset.KindUID, Meter: &ruleset.Meter{Size: 2, Timeout: timeout}}},
		Maps: []*ruleset.Map{{Name: "users", Key: ruleset.KindUID, Entries: []ruleset.MapEntry{
			{Range: ruleset.Range{Lo: 4242, Hi: 4242}, Chain: "limited"}, {Range: ruleset.Range{Lo: 4243, Hi: 4243}, Chain: "limited"},
			{Range: ruleset.Range{Lo: 4244, Hi: 4244}, Chain: "limited"}}}},
		Chains: []*ruleset.Chain{
			{Name: "limited", Rules: []*ruleset.Rule{
				{Match: []ruleset.Match{{Kind: ruleset.MatchCtNew}, m}, Verdict: ruleset.Verdict{Kind: ruleset.Accept}, Origin: ruleset.Origin{ID: "r1"}},
				{Match: []ruleset.Match{{Kind: ruleset.MatchCtNew}}, Verdict: ruleset.Verdict{Kind: ruleset.Drop}, Origin: ruleset.Origin{ID: "r1/limit"}},
				{Verdict: ruleset.Verdict{Kind: ruleset.Accept}, Origin: ruleset.Origin{ID: "r1"}},
			}},
			{Name: "out", Hook: &ruleset.Hook{Hook: "output"}, Rules: []*ruleset.Rule{
				{Verdict: ruleset.Verdict{Kind: ruleset.VMap, Map: "users"}, Origin: ruleset.Origin{ID: "dispatch"}}}},
		},
	}
}

// TestMeters: each uid has its own budget (a per-uid token bucket, a
// per-uid connection count), and a uid the full meter cannot take is
// refused, never let through; the table reads back as applied.
func TestMeters(t *testing.T) {
	tests := []struct {
		name    string
		m       ruleset.Match
		timeout time.Duration
	}{
		{"rate 1/minute burst 2 per uid", ruleset.Match{Kind: ruleset.MatchMeter, Set: "lim", Limit: &ruleset.RateLimit{Rate: 1, Unit: "minute", Burst: 2}}, time.Minute},
		{"2 connections per uid", ruleset.Match{Kind: ruleset.MatchMeter, Set: "lim", Count: 2}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns, c := newNS(t)
			inNS(t, ns, "", "ip", "link", "set", "lo", "up")
			rs := meterRuleset(tt.m, tt.timeout)
			if err := c.Apply(rs); err != nil {
				t.Fatal(err)
			}
			sent := map[uint32]int{}
			if err := ns.Do(func() error {
				for _, uid := range []uint32{4242, 4243, 4244} {
					unix.Setfsuid(int(uid))
					for i := 0; i < 4; i++ { // four new flows, each its own source port
						if err := sendUDP("127.0.0.1:9"); err == nil {
							sent[uid]++
						} else if !errors.Is(err, unix.EPERM) {
							return err
						}
					}
				}
				unix.Setfsuid(0)
				if prev, _, _ := unix.RawSyscall(unix.SYS_SETFSUID, 0, 0, 0); prev != 0 {
					return errors.New("could not restore fsuid 0")
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			want := map[uint32]int{4242: 2, 4243: 2} // 4244: the meter is full
			if sent[4242] != want[4242] || sent[4243] != want[4243] || sent[4244] != 0 {
				t.Errorf("new flows sent per uid %v, want %v (and none for 4244)", sent, want)
			}
			got, err := c.Read()
			if err != nil {
				t.Fatal(err)
			}
			if p := got.Chain("limited").Rules[1].Packets; p != 8 {
				t.Errorf("limited counter %d, want 8", p)
			}
			clearCounters(got)
			if diff := diffIR(kernelView(rs), got); diff != "" {
				t.Errorf("Read after Apply (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTimeMeterTextEquivalence: a ruleset with a time window and meters
// loads the same through `nft -f` of its text (with TZ=UTC: nft reads
// dates in its zone) as through Apply.
func TestTimeMeterTextEquivalence(t *testing.T) {
	t.Setenv("TZ", "UTC")
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC).UnixNano()
	rs := meterRuleset(ruleset.Match{Kind: ruleset.MatchMeter, Set: "lim", Limit: &ruleset.RateLimit{Rate: 10, Unit: "minute", Burst: 5}}, time.Minute)
	rs.Sets = append(rs.Sets, &ruleset.Set{Name: "cc", Kind: ruleset.KindUID, Meter: &ruleset.Meter{Size: 100}},
		&ruleset.Set{Name: "w", Kind: ruleset.KindTime, Interval: true, Times: []ruleset.TimeRange{{From: now, To: now + int64(time.Hour)}, {From: now + int64(24*time.Hour), To: ruleset.Forever}}})
	ch := rs.Chain("limited")
	ch.Rules = append([]*ruleset.Rule{
		{Match: []ruleset.Match{{Kind: ruleset.MatchTime, Set: "w"}, {Kind: ruleset.MatchCtNew}, {Kind: ruleset.MatchMeter, Set: "cc", Count: 3}},
			Verdict: ruleset.Verdict{Kind: ruleset.Accept}, Origin: ruleset.Origin{ID: "r0"}}}, ch.Rules...)
	nsA, _ := newNS(t)
	nsB, c := newNS(t)
	inNS(t, nsA, ruleset.Text(rs, ruleset.TextOptions{}), "nft", "-f", "-")
	if err := c.Apply(rs); err != nil {
		t.Fatal(err)
	}
	// nft's range ends are included: its window ends one nanosecond
	// later, and it lists Apply's exact ends as the second before; and nft
	// records `typeof meta time` in userdata, Apply the type only (nft
	// then names the type: time). The kernel's encoding is the same (the
	// Read below).
	b := strings.NewReplacer("10:59:59", "11:00:00", "23:47:15", "23:47:16", "type time", "typeof meta time").Replace(list(t, nsB))
	if diff := cmp.Diff(list(t, nsA), b); diff != "" {
		t.Errorf("nft list (-nft -f +Apply):\n%s", diff)
	}
	cA, err := Open(WithNetNS(nsA.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	fromText, err := cA.Read()
	if err != nil {
		t.Fatalf("Read of the table nft -f loaded: %v", err)
	}
	for i := range fromText.Set("w").Times {
		fromText.Set("w").Times[i].To--
	}
	if diff := diffIR(kernelView(rs), fromText); diff != "" {
		t.Errorf("Read of nft -f table (-want +got):\n%s", diff)
	}
}
