package cgroups

import (
	"fmt"
	"sync"

	"github.com/fsnotify/fsnotify"
)

// Watch reports changes below a set of cgroup2 directories over inotify
// (which works on cgroup2: a child cgroup's mkdir and rmdir are CREATE and
// REMOVE events of its parent). It reports that something changed, not
// what: the reader rescans (Scan), so a burst of events is one signal.
type Watch struct {
	w       *fsnotify.Watcher
	changed chan struct{}
	mu      sync.Mutex
	dirs    map[string]bool
}

// NewWatch starts an inotify watch with no directories.
func NewWatch() (*Watch, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("cgroups: inotify: %w", err)
	}
	cw := &Watch{w: w, changed: make(chan struct{}, 1), dirs: map[string]bool{}}
	go cw.loop()
	return cw, nil
}

// Set makes dirs (absolute paths) the watched directories: new ones are
// added, others removed. A directory that does not exist (any more) is
// skipped: its parent's event reports it when it comes back. Idempotent.
func (cw *Watch) Set(dirs []string) error {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	want := map[string]bool{}
	var errs []error
	for _, d := range dirs {
		want[d] = true
		if cw.dirs[d] {
			continue
		}
		if err := cw.w.Add(d); err != nil {
			if !notExist(err) {
				errs = append(errs, err)
			}
			continue
		}
		cw.dirs[d] = true
	}
	for d := range cw.dirs {
		if !want[d] {
			_ = cw.w.Remove(d) // gone already when the directory was removed
			delete(cw.dirs, d)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("cgroups: watch: %v", errs)
	}
	return nil
}

// Forget drops dir from the watched set (its directory was removed, so
// inotify dropped it): the next Set adds it again if it is back.
func (cw *Watch) forget(dir string) {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	delete(cw.dirs, dir)
}

// Changed delivers a signal after a change below a watched directory.
func (cw *Watch) Changed() <-chan struct{} { return cw.changed }

// Close stops the watch.
func (cw *Watch) Close() error { return cw.w.Close() }

func (cw *Watch) loop() {
	for {
		select {
		case ev, ok := <-cw.w.Events:
			if !ok {
				return
			}
			if ev.Op&(fsnotify.Create|fsnotify.Remove|fsnotify.Rename) == 0 {
				continue
			}
			if ev.Op&(fsnotify.Remove|fsnotify.Rename) != 0 {
				cw.forget(ev.Name)
			}
			select {
			case cw.changed <- struct{}{}:
			default: // one pending signal is enough: the reader rescans
			}
		case _, ok := <-cw.w.Errors:
			if !ok {
				return
			}
			select { // an overflow lost events: rescan
			case cw.changed <- struct{}{}:
			default:
			}
		}
	}
}
