package daemon

import (
	"fmt"
	"path/filepath"
	"sync"

	"github.com/fsnotify/fsnotify"
)

// FileWatcher is Watcher over inotify (fsnotify). It watches the
// directories of the files it is given, so that a file replaced by rename
// (editors, `install`, useradd's /etc/passwd) is still seen.
type FileWatcher struct {
	w      *fsnotify.Watcher
	events chan string
	mu     sync.Mutex
	files  map[string]bool
	dirs   map[string]bool
}

// NewFileWatcher starts an inotify watcher.
func NewFileWatcher() (*FileWatcher, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("daemon: inotify: %w", err)
	}
	fw := &FileWatcher{w: w, events: make(chan string, 64), files: map[string]bool{}, dirs: map[string]bool{}}
	go fw.loop()
	return fw, nil
}

// Watch implements Watcher.
func (fw *FileWatcher) Watch(path string) error {
	path = filepath.Clean(path)
	dir := filepath.Dir(path)
	fw.mu.Lock()
	defer fw.mu.Unlock()
	fw.files[path] = true
	if fw.dirs[dir] {
		return nil
	}
	if err := fw.w.Add(dir); err != nil {
		return fmt.Errorf("daemon: watch %s: %w", dir, err)
	}
	fw.dirs[dir] = true
	return nil
}

// Events implements Watcher.
func (fw *FileWatcher) Events() <-chan string { return fw.events }

// Close implements Watcher.
func (fw *FileWatcher) Close() error { return fw.w.Close() }

func (fw *FileWatcher) loop() {
	for {
		select {
		case ev, ok := <-fw.w.Events:
			if !ok {
				return
			}
			if ev.Op == fsnotify.Chmod {
				continue
			}
			p := filepath.Clean(ev.Name)
			fw.mu.Lock()
			watched := fw.files[p]
			fw.mu.Unlock()
			if watched {
				select {
				case fw.events <- p:
				default: // a burst: one pending event per file is enough
				}
			}
		case _, ok := <-fw.w.Errors:
			if !ok {
				return
			}
		}
	}
}
