package daemon

import (
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/leash-dev/leash/internal/cgroups"
)

// lockedTree is a cgroups.Fake the test changes while the daemon reads it.
type lockedTree struct {
	mu sync.Mutex
	f  cgroups.Fake
}

func (t *lockedTree) ID(p string) (uint64, bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.f.ID(p)
}

func (t *lockedTree) Children(p string) ([]string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.f.Children(p)
}

func (t *lockedTree) set(p string, id uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if id == 0 {
		delete(t.f, p)
	} else {
		t.f[p] = id
	}
}

// fakeCgroupWatch records the watched directories and delivers the
// test's signals.
type fakeCgroupWatch struct {
	mu      sync.Mutex
	dirs    []string
	changed chan struct{}
}

func (w *fakeCgroupWatch) Set(dirs []string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.dirs = slices.Clone(dirs)
	return nil
}
func (w *fakeCgroupWatch) Changed() <-chan struct{} { return w.changed }
func (w *fakeCgroupWatch) Close() error             { return nil }

// TestDaemonKeepsCgroups: the daemon classifies the cgroups of the policy
// in force at start, watches the directories on the way to them, and
// after a change below them (a unit restarted: a new id) replaces the old
// id with the new one in the live sets, through the engine, without a new
// generation.
func TestDaemonKeepsCgroups(t *testing.T) {
	r := newRig(t)
	tree := &lockedTree{f: cgroups.Fake{"": 1, "a": 10, "a/app": 11, "a/other": 12, "b": 20}}
	w := &fakeCgroupWatch{changed: make(chan struct{}, 1)}
	r.cgroups = &Cgroups{Tree: tree, Root: "/cg", Watch: w}
	r.write("version: 1\npolicies:\n  - name: app\n    cgroups: [a/app]\n    default: deny\n")
	r.run()
	elems := func(set string) []uint64 {
		if rs := r.k.Table(); rs != nil {
			if s := rs.Set(set); s != nil {
				return s.Cgroups
			}
		}
		return nil
	}
	want := map[string][]uint64{"cg1": {10, 20}, "cg1_watch": {10}, "cg2": {11, 12}, "cgmap2": {11}}
	r.eventually("the cgroups classified", func() bool {
		for s, ids := range want {
			if !slices.Equal(elems(s), ids) {
				return false
			}
		}
		return true
	})
	w.mu.Lock()
	if diff := cmp.Diff([]string{"/cg", "/cg/a"}, w.dirs); diff != "" {
		t.Errorf("watched directories (-want +got):\n%s", diff)
	}
	w.mu.Unlock()

	tree.set("a/app", 13) // restarted: a new cgroup, a new id
	w.changed <- struct{}{}
	r.eventually("the new id classified, the old one gone", func() bool {
		return slices.Equal(elems("cgmap2"), []uint64{13}) && slices.Equal(elems("cg2"), []uint64{12, 13})
	})
	if got := r.current(); got != 1 {
		t.Errorf("generation %d is current, want 1: a live update makes no generation", got)
	}
}
