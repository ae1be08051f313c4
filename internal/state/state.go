// Package state keeps what leash applied: every change leash makes to the
// kernel (apply, rollback, automatic revert, reset, reapply) is stored as a
// numbered generation under the state directory (default /var/lib/leash).
// History is a linear log: a rollback does not rewind it, it adds a
// generation that says which one it re-applied.
//
//	generations/000001/generation.json   metadata and compiled ruleset
//	generations/000001/policy.yaml       the policy source as applied
//	current                              the number of the generation in force
//	pending.json                         a generation awaiting `leash confirm`:
//	                                     {generation, previous, deadline, window}
//	intent.json                          a kernel change begun but not yet
//	                                     recorded: {generation, previous,
//	                                     action, time, clears_pending}
//	lock                                 flock(2) lock of apply, rollback, reset,
//	                                     confirm, restore, reapply and the reverter;
//	                                     holds the holder's pid, command and start
//	revert.log                           what detached reverters did
//
// A generation whose ruleset is null stands for "no table" (after a reset,
// or a revert to before the first apply). Writes are atomic (temporary
// file, fsync, rename; go-internal/renameio), so a crash leaves either the
// old or the new state, never a torn file. The kernel table is the
// authority; the stored ruleset is what `check` explains and what
// `leash restore` loads at boot without DNS.
//
// Every change to the kernel is recorded in two phases, so that the state
// never lags the kernel after a crash. Under the lock, Begin writes
// intent.json (new generation N, previous current M) and then N's
// complete directory; only then is the kernel changed; Commit makes N
// current and removes the intent, Abort (the kernel refused) removes N's
// directory and the intent, so history never lists a generation that was
// not applied. A leash killed in between leaves the intent behind, and
// every command that takes the lock first calls Recover: it rolls forward
// (N becomes current) when the kernel holds N's table, compared in
// canonical form without counters as `leash status` does, and rolls back
// (M stays current, N is removed) otherwise, when N's files are
// incomplete, when the intent record is corrupt, or when the kernel
// cannot tell (at boot, `leash restore` loads M: N was never confirmed to
// be enforced). Commands that do not take the lock use Decide to see the
// same outcome without writing it.
// Prune keeps the newest generations (Keep, default 50) and never removes
// the current one, the pending one or the one a pending confirmation would
// revert to.
package state

import (
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

// Action says how a generation came about.
type Action string

// The actions that create generations.
const (
	ActionApply     Action = "apply"     // leash apply FILE
	ActionRollback  Action = "rollback"  // leash rollback N: Source's ruleset again
	ActionRevert    Action = "revert"    // automatic revert of Reverts to Source
	ActionReset     Action = "reset"     // leash reset: no table
	ActionReapply   Action = "reapply"   // Source's policy recompiled with today's users and names
	ActionEmergency Action = "emergency" // the emergency table (stored state was unusable)
)

// Format is the version of the records this leash writes (generation.json,
// pending.json, intent.json). Every record says its format; 0 is a record
// written before formats were recorded, laid out as format 1. A leash reads
// every format up to its own, and refuses a newer one as unusable (a
// *CorruptError saying so) rather than guess at it. A change to the records
// or to the ruleset model they hold that an older record would not survive
// needs a new format and a reader for the old one; the fixtures of every
// released format (internal/engine/testdata/formats) are restored by a test.
const Format = 1

// checkFormat refuses a record of a format newer than this leash's.
func checkFormat(path string, f int) error {
	if f > Format {
		return &CorruptError{Path: path, Err: fmt.Errorf("written by a newer leash (record format %d; this leash reads formats up to %d): use that leash, or roll back with it", f, Format)}
	}
	return nil
}

// Meta describes a generation without its ruleset and policy source.
type Meta struct {
	// Format is the record format it was written in (see Format).
	Format     int       `json:"format,omitempty"`
	ID         int       `json:"id"`
	Time       time.Time `json:"time"`
	PolicyFile string    `json:"policy_file,omitempty"`
	// Action is how the generation came about; empty in generations written
	// before actions were recorded, which were all applies.
	Action Action `json:"action,omitempty"`
	// Source is the generation whose ruleset (rollback, revert) or policy
	// (reapply) this one re-applied; 0 for none.
	Source int `json:"source,omitempty"`
	// Reverts is the unconfirmed generation an automatic revert undid.
	Reverts int `json:"reverts,omitempty"`
	// Note says what happened, for people: "rollback to 3".
	Note string `json:"note,omitempty"`
	// Summary is a one-line description of the policy.
	Summary string `json:"summary,omitempty"`
	// NetNS is the network namespace whose kernel table the generation
	// describes (nil in records written before it was recorded: the
	// host's).
	NetNS *Namespace `json:"netns,omitempty"`
	// Windows: the ruleset's time windows end at Windows.Until (nil: no
	// windows, or not recorded).
	Windows *Windows `json:"windows,omitempty"`
	// Orphan is the ruleset's orphan tag (compile.OrphanTag), kept here so
	// that the next apply picks the tag after it from the record's head
	// (nil: no tag, or not recorded).
	Orphan *OrphanTag `json:"orphan,omitempty"`
}

// OrphanTag is a ruleset's conntrack-mark orphan tag and the mask's bits
// it lives in (baseline.orphan_mark).
type OrphanTag struct {
	Tag  uint32 `json:"tag"`
	Mask uint32 `json:"mask"`
}

// What is the generation's action, with old generations counted as applies.
func (m Meta) What() Action {
	if m.Action == "" {
		return ActionApply
	}
	return m.Action
}

// Generation is one change leash made to the kernel.
type Generation struct {
	Meta
	// Ruleset is the compiled table; nil means no table.
	Ruleset *ruleset.Ruleset    `json:"ruleset"`
	Hosts   map[string][]string `json:"hosts,omitempty"`
	Policy  []byte              `json:"-"` // stored as policy.yaml
	// PolicyMissing says policy.yaml was not found: the generation's
	// ruleset is usable, its source is not (Policy is nil).
	PolicyMissing bool `json:"-"`
}

// Store reads and writes generations under Dir.
type Store struct {
	Dir string
	// Keep is how many generations Prune keeps (0: DefaultKeep).
	Keep int
	// meta caches generation metadata (metacache.go); head the metadata
	// read from the head of the file only (metahead.go).
	meta, head metaCache
}

// CorruptError says a state file exists but cannot be used.
type CorruptError struct {
	Path string
	Err  error
}

func (e *CorruptError) Error() string { return fmt.Sprintf("%s is corrupt: %v", e.Path, e.Err) }
func (e *CorruptError) Unwrap() error { return e.Err }

// Save stores g as a new generation, makes it current and returns its id,
// in one phase: for records that do not follow a kernel change. A change
// to the kernel is recorded in two phases instead (Begin, then Commit or
// Abort; see intent.go).
func (s *Store) Save(g *Generation) (int, error) {
	id, err := s.NextID()
	if err != nil {
		return 0, err
	}
	g.ID = id
	if err := s.writeGeneration(g); err != nil {
		return 0, err
	}
	if err := s.setCurrent(g.ID); err != nil {
		return 0, err
	}
	return g.ID, nil
}

// writeGeneration writes g's files into its directory (g.ID must be set).
func (s *Store) writeGeneration(g *Generation) error {
	if err := s.CheckDir(); err != nil {
		return err
	}
	dir := s.genDir(g.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	g.Format = Format
	meta, err := marshalRecord(g)
	if err != nil {
		return fmt.Errorf("state: encode generation %d: %w", g.ID, err)
	}
	if err := s.writeAtomic(filepath.Join(dir, "policy.yaml"), g.Policy); err != nil {
		return err
	}
	return s.writeAtomic(filepath.Join(dir, "generation.json"), meta)
}

// setCurrent makes generation id the one in force.
func (s *Store) setCurrent(id int) error {
	return s.writeAtomic(s.currentPath(), []byte(strconv.Itoa(id)+"\n"))
}

// NextID is the id Save will give the next generation. It is stable only
// while the caller holds the lock.
func (s *Store) NextID() (int, error) {
	ids, err := s.IDs()
	if err != nil {
		return 0, err
	}
	if len(ids) == 0 {
		return 1, nil
	}
	return ids[len(ids)-1] + 1, nil
}

// CurrentID returns the number of the generation in force, or an error
// wrapping ErrNone when nothing was applied, or a *CorruptError.
func (s *Store) CurrentID() (int, error) {
	path := s.currentPath()
	b, err := s.readFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("state: %s: %w", s.Dir, ErrNone)
	}
	if err != nil {
		return 0, fmt.Errorf("state: %w", err)
	}
	id, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || id <= 0 {
		return 0, &CorruptError{Path: path, Err: fmt.Errorf("%q is not a generation number", b)}
	}
	return id, nil
}

// Current returns the generation in force, or an error wrapping ErrNone, or
// a *CorruptError naming the file that is unusable.
func (s *Store) Current() (*Generation, error) {
	id, err := s.CurrentID()
	if err != nil {
		return nil, err
	}
	g, err := s.Load(id)
	var ce *CorruptError
	if errors.Is(err, os.ErrNotExist) && !errors.As(err, &ce) {
		return nil, &CorruptError{Path: s.currentPath(), Err: fmt.Errorf("names generation %d, which does not exist", id)}
	}
	return g, err
}

// Load reads generation id. A generation that does not exist gives an error
// wrapping os.ErrNotExist; one whose files are damaged a *CorruptError. A
// missing policy.yaml is not damage to the ruleset: the generation loads
// with PolicyMissing set. The hostname refresher's element updates of
// the generation (Refreshed) are in place.
func (s *Store) Load(id int) (*Generation, error) {
	if err := s.CheckDir(); err != nil {
		return nil, err
	}
	dir := s.genDir(id)
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("state: generation %d: %w", id, err)
	}
	path := filepath.Join(dir, "generation.json")
	meta, err := s.readFile(path)
	if err != nil {
		return nil, &CorruptError{Path: path, Err: err}
	}
	g := &Generation{}
	if err := decodeRecord(s, path, meta, g); err != nil {
		return nil, &CorruptError{Path: path, Err: err}
	}
	if err := checkFormat(path, g.Format); err != nil {
		return nil, err
	}
	if g.ID != id {
		return nil, &CorruptError{Path: path, Err: fmt.Errorf("says it is generation %d", g.ID)}
	}
	path = filepath.Join(dir, "policy.yaml")
	g.Policy, err = s.readFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		g.PolicyMissing = true // the ruleset is what restore and rollback need
	case err != nil:
		return nil, &CorruptError{Path: path, Err: err}
	}
	s.withRefreshed(g)
	return g, nil
}

// GenerationFile is the metadata file of generation id.
func (s *Store) GenerationFile(id int) string {
	return filepath.Join(s.genDir(id), "generation.json")
}

func (s *Store) genDir(id int) string {
	return filepath.Join(s.Dir, "generations", fmt.Sprintf("%06d", id))
}

func (s *Store) currentPath() string { return filepath.Join(s.Dir, "current") }

// CurrentFile is the file that names the generation in force.
func (s *Store) CurrentFile() string { return s.currentPath() }

// IDs lists stored generation numbers in ascending order.
func (s *Store) IDs() ([]int, error) {
	if err := s.CheckDir(); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(filepath.Join(s.Dir, "generations"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	var ids []int
	for _, e := range entries {
		if id, err := strconv.Atoi(e.Name()); err == nil && id > 0 && e.IsDir() {
			ids = append(ids, id)
		}
	}
	sort.Ints(ids)
	return ids, nil
}

// writeAtomic replaces path with data atomically (renameio: temporary file
// in the same directory created with O_CREAT|O_EXCL, fsync, rename, which
// replaces a symlink at path rather than following it), creating the
// directory if needed, after checking the state directory (CheckDir).
func (s *Store) writeAtomic(path string, data []byte) error {
	if err := s.CheckDir(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if err := renameio.WriteFile(path, data); err != nil {
		return fmt.Errorf("state: write %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes a rename or removal in dir durable: without it, a power
// loss after the rename may bring back the old name.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("state: sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("state: sync %s: %w", dir, err)
	}
	return nil
}

// removeTemp removes the temporary files of writes that a killed leash
// left (renameio's NAME*.tmp in the state directory and the generation
// directories). It runs under the lock, when no write is in progress;
// failures are ignored: a leftover only takes space.
func (s *Store) removeTemp() {
	patterns := []string{filepath.Join(s.Dir, "*.tmp"), filepath.Join(s.Dir, "generations", "*", "*.tmp")}
	for _, p := range patterns {
		matches, _ := filepath.Glob(p)
		for _, m := range matches {
			if fi, err := os.Lstat(m); err == nil && fi.Mode().IsRegular() {
				os.Remove(m)
			}
		}
	}
}
