package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Intent is a change to the kernel that leash has prepared but not yet
// recorded as done. Begin writes it, with the complete new generation,
// before the kernel is touched; Commit makes the generation current and
// removes it; Abort removes both when the kernel refused. An intent found
// by a later leash means the one that wrote it died in between: Recover
// decides whether the change happened.
type Intent struct {
	// Format is the record format it was written in (see Format).
	Format int `json:"format,omitempty"`
	// Generation is the new generation: written, not yet current.
	Generation int `json:"generation"`
	// Previous is the generation that was current when the change began
	// (0: none, or `current` was unreadable).
	Previous int `json:"previous"`
	// Action is what the change is (apply, rollback, revert, ...).
	Action Action `json:"action"`
	// Time is when the change began.
	Time time.Time `json:"time"`
	// NetNS is the network namespace of the change (nil: the host's, or
	// a record written before it was recorded).
	NetNS *Namespace `json:"netns,omitempty"`
	// ClearsPending says the change replaces a pending confirmation (a
	// plain apply, a rollback, a reset, a revert): committing it, or
	// rolling it forward, also removes pending.json.
	ClearsPending bool `json:"clears_pending,omitempty"`
}

// IntentFile is where the change in progress is recorded.
func (s *Store) IntentFile() string { return filepath.Join(s.Dir, "intent.json") }

// Intent returns the recorded change in progress, nil when there is none,
// or a *CorruptError when the record cannot be read.
func (s *Store) Intent() (*Intent, error) {
	return readRecord(s, s.IntentFile(), func(in *Intent) bool {
		return in.Generation > 0 && in.Previous >= 0 && in.Previous < in.Generation && in.Action != "" && !in.Time.IsZero()
	})
}

// Begin is the first phase of recording a kernel change: it gives g the
// next generation number, writes the intent record and then g's files,
// and returns the intent. The kernel must not be touched before Begin
// returns, and the caller must hold the lock. Begin refuses while another
// intent is recorded (Recover it first). If writing g fails, nothing of
// it is left behind.
func (s *Store) Begin(g *Generation, clearsPending bool) (*Intent, error) {
	switch old, err := s.Intent(); {
	case err != nil:
		return nil, fmt.Errorf("state: an interrupted change is unresolved: %w", err)
	case old != nil:
		return nil, fmt.Errorf("state: an interrupted change is unresolved: %s records generation %d (%s)", s.IntentFile(), old.Generation, old.Action)
	}
	prev, err := s.CurrentID()
	var ce *CorruptError
	switch {
	case errors.Is(err, ErrNone), errors.As(err, &ce):
		prev = 0
	case err != nil:
		return nil, err
	}
	id, err := s.NextID()
	if err != nil {
		return nil, err
	}
	g.ID = id
	in := &Intent{Format: Format, NetNS: g.NetNS, Generation: id, Previous: prev, Action: g.What(), Time: g.Time, ClearsPending: clearsPending}
	if in.Time.IsZero() {
		in.Time = time.Now().UTC()
	}
	if err := s.writeRecord(s.IntentFile(), "intent", in); err != nil {
		return nil, err
	}
	if err := s.writeGeneration(g); err != nil {
		if aerr := s.Abort(in); aerr != nil {
			return nil, fmt.Errorf("%w (and cleaning up: %v)", err, aerr)
		}
		return nil, err
	}
	return in, nil
}

// Commit is the second phase after the kernel took the change: generation
// in.Generation becomes current, a pending confirmation is cleared if
// in.ClearsPending, and the intent is removed, in that order, so that a
// crash at any point leaves an intent that Recover rolls forward.
func (s *Store) Commit(in *Intent) error {
	if err := s.setCurrent(in.Generation); err != nil {
		return err
	}
	if in.ClearsPending {
		if err := s.ClearPending(); err != nil {
			return err
		}
	}
	return s.removeIntent()
}

// Abort undoes Begin after the kernel refused the change: the unused
// generation's directory, then the intent, are removed, so history never
// lists a generation that was not applied. The current generation and the
// pending confirmation are left as they are.
func (s *Store) Abort(in *Intent) error {
	if _, err := s.removeUncommitted(in.Generation); err != nil {
		return err
	}
	return s.removeIntent()
}

func (s *Store) removeIntent() error {
	if err := os.Remove(s.IntentFile()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("state: %w", err)
	}
	return nil
}

// removeUncommitted removes generation id's directory if it is safe: id is
// not current and no generation is newer (Begin always creates the newest,
// so an older one is someone's committed history). It reports whether the
// directory existed and was removed.
func (s *Store) removeUncommitted(id int) (bool, error) {
	if cur, err := s.CurrentID(); err == nil && cur == id {
		return false, nil
	}
	ids, err := s.IDs()
	if err != nil {
		return false, err
	}
	if len(ids) == 0 || ids[len(ids)-1] != id {
		return false, nil
	}
	if err := os.RemoveAll(s.genDir(id)); err != nil {
		return false, fmt.Errorf("state: remove unused generation %d: %w", id, err)
	}
	return true, nil
}
