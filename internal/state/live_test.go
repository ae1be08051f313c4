package state

import (
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/leash-dev/leash/internal/ruleset"
)

// TestLiveSnapshot: the snapshot round-trips with its elements' state, is
// absent before the first write, and a damaged or newer one is a
// *CorruptError naming live.json.
func TestLiveSnapshot(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	if l, err := s.Live(); l != nil || err != nil {
		t.Fatalf("Live before any write = %v, %v", l, err)
	}
	set := &ruleset.Set{Name: "mail4", Kind: ruleset.KindIPv4, Live: &ruleset.Live{Timeout: time.Hour, Counters: true, Source: "host:mail.example.com"}}
	set.SetElements([]ruleset.Element{{Addr: netip.MustParseAddr("192.0.2.1"), ElementState: ruleset.ElementState{Expires: 40 * time.Minute, Packets: 3, Bytes: 90}}})
	when := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	if err := s.SetLive(&LiveSnapshot{Time: when, Sets: []*ruleset.Set{set}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Live()
	if err != nil {
		t.Fatal(err)
	}
	e := got.Set("mail4").Elements()
	if !got.Time.Equal(when) || got.Format != Format || len(e) != 1 || e[0].Expires != 40*time.Minute || e[0].Packets != 3 {
		t.Errorf("Live = %+v, elements %+v", got, e)
	}
	for _, bad := range []string{"{", `{"format": 99, "time": "2026-12-01T12:00:00Z"}`, `{"format": 1}`} {
		if err := os.WriteFile(s.LiveFile(), []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		var ce *CorruptError
		if _, err := s.Live(); !errors.As(err, &ce) || !strings.HasSuffix(ce.Path, "live.json") {
			t.Errorf("Live of %q = %v, want a CorruptError naming live.json", bad, err)
		}
	}
}
