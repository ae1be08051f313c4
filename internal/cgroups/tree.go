package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// Tree is a cgroup2 hierarchy: paths relative to its root, "" the root.
type Tree interface {
	// ID is the cgroup id of path (its directory's inode number); ok is
	// false when there is no such cgroup.
	ID(path string) (id uint64, ok bool, err error)
	// Children are the names of path's child cgroups (none when path does
	// not exist).
	Children(path string) ([]string, error)
}

// Scan reads the ids plan classifies from t: every watched directory and
// every child of one. A directory that vanishes meanwhile is left out
// (the watch reports it).
func Scan(t Tree, plan *Plan) (Snapshot, error) {
	snap := Snapshot{}
	for _, w := range plan.Watched() {
		id, ok, err := t.ID(w)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		snap[w] = id
		names, err := t.Children(w)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			c := n
			if w != "" {
				c = w + "/" + n
			}
			if !plan.Classified(c) {
				continue
			}
			if id, ok, err := t.ID(c); err != nil {
				return nil, err
			} else if ok {
				snap[c] = id
			}
		}
	}
	return snap, nil
}

// ErrNoCgroup2 says the host has no cgroup2 mount.
var ErrNoCgroup2 = errors.New("no cgroup2 file system is mounted (see /proc/self/mountinfo)")

// Fake is a Tree in memory for tests: paths to ids.
type Fake map[string]uint64

// ID implements Tree.
func (f Fake) ID(p string) (uint64, bool, error) {
	id, ok := f[p]
	return id, ok, nil
}

// Children implements Tree.
func (f Fake) Children(p string) ([]string, error) {
	var out []string
	for c := range f {
		if c != "" && parent(c) == p {
			out = append(out, c[strings.LastIndexByte(c, '/')+1:])
		}
	}
	return out, nil
}

// Ancestors are the paths from the root ("") down to p, p included.
func Ancestors(p string) []string {
	out := []string{""}
	if p == "" {
		return out
	}
	parts := strings.Split(p, "/")
	for i := range parts {
		out = append(out, strings.Join(parts[:i+1], "/"))
	}
	return out
}

// notExist reports whether err means the path is gone.
func notExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

func wrapf(err error, format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, err)...)
}
