package state

import (
	"path/filepath"
	"time"

	"github.com/leash-dev/leash/internal/ruleset"
)

// LiveSnapshot is the last known elements of the live sets (ruleset.Live),
// recorded beside the generations rather than in them: the engine writes it
// after every live update and every full apply that carried live sets, so a
// TTL refresh is never a new generation and never cycles the history, and
// restore at boot re-adds the last good elements into an empty kernel.
type LiveSnapshot struct {
	// Format is the record format it was written in (see Format).
	Format int `json:"format,omitempty"`
	// Time is when it was taken (wall clock): an element's remaining
	// lifetime (ElementState.Expires) counts from it.
	Time time.Time `json:"time"`
	// Sets are the live sets, declaration and elements with their state.
	Sets []*ruleset.Set `json:"sets,omitempty"`
}

// Set returns the snapshot's live set named name, nil if none.
func (l *LiveSnapshot) Set(name string) *ruleset.Set {
	if l == nil {
		return nil
	}
	for _, s := range l.Sets {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Live returns the live snapshot, nil when none was written, or a
// *CorruptError when it cannot be read.
func (s *Store) Live() (*LiveSnapshot, error) {
	return readRecord(s, s.LiveFile(), func(l *LiveSnapshot) bool { return !l.Time.IsZero() })
}

// SetLive replaces the live snapshot atomically.
func (s *Store) SetLive(l *LiveSnapshot) error {
	l.Format = Format
	return s.writeRecord(s.LiveFile(), "live snapshot", l)
}

// LiveFile is where the live snapshot is recorded.
func (s *Store) LiveFile() string { return filepath.Join(s.Dir, "live.json") }
