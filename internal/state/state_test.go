package state

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/leash-dev/leash/internal/ruleset"
)

func TestSaveCurrentLoad(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	if _, err := s.Current(); !errors.Is(err, ErrNone) {
		t.Fatalf("Current on empty store: err = %v, want ErrNone", err)
	}
	rs := &ruleset.Ruleset{Chains: []*ruleset.Chain{{Name: "output", Hook: &ruleset.Hook{Hook: "output"}}}}
	for want := 1; want <= 3; want++ {
		g := &Generation{Time: time.Unix(int64(want), 0).UTC(), PolicyFile: "/etc/leash/policy.yaml", Ruleset: rs, Policy: []byte("version: 1\n")}
		id, err := s.Save(g)
		if err != nil {
			t.Fatal(err)
		}
		if id != want {
			t.Errorf("Save #%d returned id %d", want, id)
		}
		got, err := s.Current()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(g, got); diff != "" {
			t.Errorf("Current() after save %d (-want +got):\n%s", want, diff)
		}
	}
}
