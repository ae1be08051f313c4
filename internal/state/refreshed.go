package state

import (
	"path/filepath"
	"time"

	"github.com/leash-dev/leash/internal/ruleset"
)

// Refreshed is what the hostname refresher changed in the kernel without a
// new generation (engine.Engine.RefreshHosts): the elements of generation
// Generation's sets and maps whose addresses come from hostnames, as they
// are now (whole sets and maps, declaration and elements), and the
// hostnames' addresses behind them. It is recorded beside the generations
// (refreshed.json), so that a TTL refresh never cycles the history, and
// Load returns that generation with it in place: drift, status, repair,
// restore and rollback see and load the table as the kernel was last
// loaded, and the next refresh diffs against it.
type Refreshed struct {
	// Format is the record format it was written in (see Format).
	Format int `json:"format,omitempty"`
	// Time is when it was written (wall clock).
	Time       time.Time           `json:"time"`
	Generation int                 `json:"generation"`
	Sets       []*ruleset.Set      `json:"sets,omitempty"`
	Maps       []*ruleset.Map      `json:"maps,omitempty"`
	Hosts      map[string][]string `json:"hosts,omitempty"`
}

// Refreshed returns the refreshed record, nil when none was written, or a
// *CorruptError when it cannot be read.
func (s *Store) Refreshed() (*Refreshed, error) {
	return readRecord(s, s.RefreshedFile(), func(r *Refreshed) bool { return !r.Time.IsZero() && r.Generation > 0 })
}

// SetRefreshed replaces the refreshed record atomically.
func (s *Store) SetRefreshed(r *Refreshed) error {
	r.Format = Format
	return s.writeRecord(s.RefreshedFile(), "refreshed elements", r)
}

// RefreshedFile is where the refreshed elements are recorded.
func (s *Store) RefreshedFile() string { return filepath.Join(s.Dir, "refreshed.json") }

// withRefreshed puts the refreshed elements into g when they are of g. A
// record that is unreadable or of another layout is left out: g's own
// elements are a table leash compiled, and the refresher's next step sends
// its addresses again.
func (s *Store) withRefreshed(g *Generation) {
	if g.Ruleset == nil {
		return
	}
	r, err := s.Refreshed()
	if err != nil || r == nil || r.Generation != g.ID {
		return
	}
	if rs, ok := ruleset.WithElements(g.Ruleset, r.Sets, r.Maps); ok {
		g.Ruleset = rs
		if r.Hosts != nil {
			g.Hosts = r.Hosts
		}
	}
}
