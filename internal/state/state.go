// Package state keeps what leash applied: every successful `leash apply`
// stores the policy source and the compiled ruleset as a numbered generation
// under the state directory (default /var/lib/leash):
//
//	generations/000001/generation.json   metadata and compiled ruleset
//	generations/000001/policy.yaml       the policy source as applied
//	current                              the number of the generation in force
//
// Writes are atomic (temporary file, fsync, rename; go-internal/renameio), so a crash leaves either
// the old or the new state, never a torn file. The kernel table is the
// authority; the stored ruleset is what `check` explains and what boot-time
// restore loads without needing DNS.
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/renameio"

	"github.com/leash-dev/leash/internal/ruleset"
)

// DefaultDir is the state directory of a system installation.
const DefaultDir = "/var/lib/leash"

// ErrNone is returned (wrapped) when nothing has been applied yet.
var ErrNone = errors.New("nothing applied yet (no generation stored)")

// Generation is one applied policy.
type Generation struct {
	ID         int                 `json:"id"`
	Time       time.Time           `json:"time"`
	PolicyFile string              `json:"policy_file"`
	Ruleset    *ruleset.Ruleset    `json:"ruleset"`
	Hosts      map[string][]string `json:"hosts,omitempty"`
	Policy     []byte              `json:"-"` // stored as policy.yaml
}

// Store reads and writes generations under Dir.
type Store struct {
	Dir string
}

// Save stores g as a new generation, makes it current and returns its id.
func (s *Store) Save(g *Generation) (int, error) {
	ids, err := s.ids()
	if err != nil {
		return 0, err
	}
	g.ID = 1
	if len(ids) > 0 {
		g.ID = ids[len(ids)-1] + 1
	}
	dir := s.genDir(g.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, fmt.Errorf("state: %w", err)
	}
	meta, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return 0, fmt.Errorf("state: encode generation %d: %w", g.ID, err)
	}
	if err := writeAtomic(filepath.Join(dir, "policy.yaml"), g.Policy); err != nil {
		return 0, err
	}
	if err := writeAtomic(filepath.Join(dir, "generation.json"), meta); err != nil {
		return 0, err
	}
	if err := writeAtomic(filepath.Join(s.Dir, "current"), []byte(strconv.Itoa(g.ID)+"\n")); err != nil {
		return 0, err
	}
	return g.ID, nil
}

// Current returns the generation in force, or an error wrapping ErrNone.
func (s *Store) Current() (*Generation, error) {
	b, err := os.ReadFile(filepath.Join(s.Dir, "current"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("state: %s: %w", s.Dir, ErrNone)
	}
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	id, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("state: %s/current is corrupt (%q): %w", s.Dir, b, err)
	}
	return s.Load(id)
}

// Load reads generation id.
func (s *Store) Load(id int) (*Generation, error) {
	dir := s.genDir(id)
	meta, err := os.ReadFile(filepath.Join(dir, "generation.json"))
	if err != nil {
		return nil, fmt.Errorf("state: generation %d: %w", id, err)
	}
	g := &Generation{}
	if err := json.Unmarshal(meta, g); err != nil {
		return nil, fmt.Errorf("state: generation %d is corrupt: %w", id, err)
	}
	if g.Policy, err = os.ReadFile(filepath.Join(dir, "policy.yaml")); err != nil {
		return nil, fmt.Errorf("state: generation %d: %w", id, err)
	}
	return g, nil
}

func (s *Store) genDir(id int) string {
	return filepath.Join(s.Dir, "generations", fmt.Sprintf("%06d", id))
}

// ids lists stored generation numbers in ascending order.
func (s *Store) ids() ([]int, error) {
	entries, err := os.ReadDir(filepath.Join(s.Dir, "generations"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	var ids []int
	for _, e := range entries {
		if id, err := strconv.Atoi(e.Name()); err == nil && e.IsDir() {
			ids = append(ids, id)
		}
	}
	sort.Ints(ids)
	return ids, nil
}

// writeAtomic replaces path with data atomically (renameio: temporary file
// in the same directory, fsync, rename), creating the directory if needed.
func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if err := renameio.WriteFile(path, data); err != nil {
		return fmt.Errorf("state: write %s: %w", path, err)
	}
	return nil
}
