package denylog

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// LockName is the collector's lock file in the history directory. The
// running collector holds an exclusive flock(2) on it and writes its
// CollectorInfo into it; the kernel releases the lock when the process
// dies, however it dies.
const LockName = "collector.lock"

// ErrCollectorRunning is returned (wrapped) by LockCollector when another
// collector holds the directory.
var ErrCollectorRunning = errors.New("a collector is already running")

// CollectorInfo describes the running collector.
type CollectorInfo struct {
	PID     int       `json:"pid"`
	Group   uint16    `json:"group"`
	NetNS   string    `json:"netns,omitempty"`
	Started time.Time `json:"started"`
}

// CollectorLock is a held collector lock.
type CollectorLock struct{ f *os.File }

// LockCollector takes the collector lock of dir without waiting and records
// info in it.
func LockCollector(dir string, info CollectorInfo) (*CollectorLock, error) {
	if err := trustedDir(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("denylog: %w", err)
	}
	path := filepath.Join(dir, LockName)
	f, err := openNoFollow(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("denylog: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			other, _, _ := RunningCollector(dir)
			return nil, fmt.Errorf("denylog: %s: %w (pid %d, group %d)", dir, ErrCollectorRunning, other.PID, other.Group)
		}
		return nil, fmt.Errorf("denylog: lock %s: %w", path, err)
	}
	b, _ := json.Marshal(info)
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt(append(b, '\n'), 0)
	}
	return &CollectorLock{f: f}, nil
}

// Close releases the lock.
func (l *CollectorLock) Close() error { return l.f.Close() }

// RunningCollector reports whether a collector holds dir's lock, and what
// it wrote there.
func RunningCollector(dir string) (CollectorInfo, bool, error) {
	f, err := openNoFollow(filepath.Join(dir, LockName), os.O_RDONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return CollectorInfo{}, false, nil
	}
	if err != nil {
		return CollectorInfo{}, false, fmt.Errorf("denylog: %w", err)
	}
	defer f.Close()
	err = unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB)
	if err == nil {
		return CollectorInfo{}, false, nil // closing f releases our probe lock
	}
	if !errors.Is(err, unix.EWOULDBLOCK) {
		return CollectorInfo{}, false, fmt.Errorf("denylog: probe %s: %w", f.Name(), err)
	}
	var info CollectorInfo
	if b, err := io.ReadAll(io.LimitReader(f, 4096)); err == nil {
		json.Unmarshal(b, &info)
	}
	return info, true, nil
}
