package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Pending is a generation applied with `leash apply --confirm`: unless it is
// confirmed by Deadline, the reverter re-applies Previous.
type Pending struct {
	// Format is the record format it was written in (see Format).
	Format int `json:"format,omitempty"`
	// Generation is the applied generation awaiting confirmation.
	Generation int `json:"generation"`
	// Previous is the last confirmed generation, which a revert re-applies;
	// 0 means there was none and a revert removes the table.
	Previous int `json:"previous"`
	// Deadline is when the revert happens (wall clock).
	Deadline time.Time `json:"deadline"`
	// Window is the confirmation window as given ("60s").
	Window string `json:"window"`
	// ReverterPID is the process id of the detached reverter.
	ReverterPID int `json:"reverter_pid,omitempty"`
	// Replaces is the pending confirmation this one replaced (an apply
	// --confirm while another was pending), kept until this one's change is
	// settled: if that change is rolled back (state.Finish), Replaces is put
	// back, so the generation still in force keeps its revert. Its own
	// Replaces is always nil: it was settled when this one was made.
	Replaces *Pending `json:"replaces,omitempty"`
}

// Awaits reports whether gen may still be the generation awaiting
// confirmation: p names it, or p replaced the confirmation of gen and p's
// change may yet be rolled back. A reverter keeps waiting while Awaits
// holds; only the record read under the lock (p.Generation) decides.
func (p *Pending) Awaits(gen int) bool {
	return p != nil && (p.Generation == gen || p.Replaces.Awaits(gen))
}

// Pending returns the pending confirmation, nil when there is none, or a
// *CorruptError when the record cannot be read.
func (s *Store) Pending() (*Pending, error) {
	return readRecord(s, s.PendingFile(), (*Pending).complete)
}

// complete reports whether p, and the record it replaced if any, have
// every field a reverter needs.
func (p *Pending) complete() bool {
	return p.Generation > 0 && p.Previous >= 0 && !p.Deadline.IsZero() && (p.Replaces == nil || p.Replaces.complete())
}

// SetPending records p, replacing any pending confirmation.
func (s *Store) SetPending(p *Pending) error {
	p.Format = Format
	return s.writeRecord(s.PendingFile(), "pending confirmation", p)
}

// ClearPending removes the pending confirmation, if any.
func (s *Store) ClearPending() error {
	if err := os.Remove(s.PendingFile()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("state: %w", err)
	}
	return nil
}

// PendingFile is where the pending confirmation is recorded.
func (s *Store) PendingFile() string { return filepath.Join(s.Dir, "pending.json") }
