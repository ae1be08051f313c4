package state

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// lockPoll is how often a waiting Lock retries.
const lockPoll = 100 * time.Millisecond

// Holder identifies the leash holding the lock. The holder writes it into
// the lock file so that a waiting leash can say whom it waits for.
type Holder struct {
	PID     int       `json:"pid"`
	Command string    `json:"command"`
	Since   time.Time `json:"since"`
}

// String describes h as "pid 42, `leash apply x.yaml` since 2026-11-21 12:00:00 UTC".
func (h Holder) String() string {
	if h.PID == 0 {
		return "pid unknown: the lock file does not say"
	}
	parts := []string{fmt.Sprintf("pid %d", h.PID)}
	if h.Command != "" {
		parts = append(parts, fmt.Sprintf("`%s`", h.Command))
	}
	s := strings.Join(parts, ", ")
	if !h.Since.IsZero() {
		s += " since " + h.Since.UTC().Format("2006-01-02 15:04:05 MST")
	}
	return s
}

// LockOptions say who takes the lock and how long to wait for it.
type LockOptions struct {
	// Holder is recorded in the lock file while held (PID 0: this process).
	Holder Holder
	// Timeout is how long to wait while another process holds the lock;
	// 0 tries once.
	Timeout time.Duration
	// Waiting, if set, is called once when the lock is found held, with
	// the lock file's path and what it says about the holder.
	Waiting func(path string, other Holder)
}

// LockedError is returned when the lock stayed held for the whole timeout.
type LockedError struct {
	Path   string
	Holder Holder
	Waited time.Duration
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("another leash (%s) still holds %s after %s", e.Holder, e.Path, e.Waited)
}

// Lock is the exclusive lock on a state directory.
type Lock struct {
	f *os.File
}

// LockFile is the path of the state directory's lock.
func (s *Store) LockFile() string { return filepath.Join(s.Dir, "lock") }

// Lock takes the exclusive lock of the state directory (flock(2) on
// Dir/lock, creating the directory; CheckDir first, and the lock file is
// opened without following symlinks), polling every 100ms while another
// process holds it, for up to o.Timeout or until ctx ends. The kernel drops
// the lock when its holder exits, however it exits. The file descriptor is
// close-on-exec, so processes the holder starts do not inherit the lock.
func (s *Store) Lock(ctx context.Context, o LockOptions) (*Lock, error) {
	if err := s.CheckDir(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	path := s.LockFile()
	// O_NOFOLLOW: a symlink at lock is refused, never truncated through.
	f, err := openNoFollow(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state: open lock: %w", err)
	}
	if err := waitFlock(ctx, f, path, o); err != nil {
		f.Close()
		return nil, err
	}
	h := o.Holder
	if h.PID == 0 {
		h.PID = os.Getpid()
	}
	if err := writeHolder(f, h); err != nil {
		f.Close()
		return nil, fmt.Errorf("state: record lock holder in %s: %w", path, err)
	}
	s.removeTemp()
	return &Lock{f: f}, nil
}

// holderSize is the fixed size of the holder record: written in one
// write, never truncated first, so a waiter never reads it empty or half
// new, half old.
const holderSize = 1024

// writeHolder records h in the lock file: JSON padded with spaces to
// holderSize (a longer record is cut to its pid and time).
func writeHolder(f *os.File, h Holder) error {
	b, _ := json.Marshal(h) // a struct of plain fields always encodes
	if len(b) >= holderSize {
		h.Command = ""
		b, _ = json.Marshal(h)
	}
	rec := bytes.Repeat([]byte(" "), holderSize)
	copy(rec, b)
	rec[holderSize-1] = '\n'
	if _, err := f.WriteAt(rec, 0); err != nil {
		return err
	}
	return f.Truncate(holderSize) // a record of an older leash may be longer
}

func waitFlock(ctx context.Context, f *os.File, path string, o LockOptions) error {
	start := time.Now()
	waiting := false
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return fmt.Errorf("state: lock %s: %w", path, err)
		}
		if !waiting && o.Waiting != nil {
			o.Waiting(path, readHolder(path))
		}
		waiting = true
		waited := time.Since(start)
		if waited >= o.Timeout {
			return &LockedError{Path: path, Holder: readHolder(path), Waited: waited.Round(time.Millisecond)}
		}
		t := time.NewTimer(min(lockPoll, o.Timeout-waited))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("state: waiting for %s: %w", path, ctx.Err())
		case <-t.C:
		}
	}
}

// readHolder reads what the lock file says about its holder (zero if it
// says nothing usable).
func readHolder(path string) Holder {
	for range 20 { // a holder that is writing its record: read again
		var h Holder
		f, err := openNoFollow(path, os.O_RDONLY, 0)
		if err != nil {
			return h
		}
		b, _ := io.ReadAll(io.LimitReader(f, 2*holderSize))
		f.Close()
		if json.Unmarshal(b, &h) == nil && h.PID != 0 {
			return h
		}
		time.Sleep(5 * time.Millisecond)
	}
	return Holder{} // best effort: only used in messages
}

// Unlock clears the holder record and releases the lock.
func (l *Lock) Unlock() error {
	_ = l.f.Truncate(0) // best effort: a stale record only misleads a message
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("state: release lock: %w", err)
	}
	return nil
}
