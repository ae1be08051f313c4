package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/proof"
)

// testCgroups gives leash test's program cases (`as: {unit: ...}`,
// `{cgroup: ...}`) a private copy of their cgroups in the real cgroup2
// tree, below leash-test-PID: the policy's governed paths move there too
// (policy.Resolved.RootCgroups), the cases' directories are made before
// the policy is compiled (so they are classified, as leash daemon would),
// and everything is removed by the returned cleanup. With no program
// cases and no governed cgroups it does nothing.
func testCgroups(d Deps, res *policy.Resolved, cases []proof.Case) (func(string) (string, []uint64, error), func(), error) {
	var paths []string
	for _, c := range cases {
		if c.As.Cgroup != "" {
			paths = append(paths, c.As.Cgroup)
		}
	}
	if len(paths) == 0 && res.CgroupPlan().Empty() {
		return nil, func() {}, nil
	}
	if d.Cgroups == nil {
		return nil, func() {}, fmt.Errorf("test: this build has no cgroup support")
	}
	fs, err := d.Cgroups()
	if err != nil {
		return nil, func() {}, fmt.Errorf("test: %w", err)
	}
	prefix := fmt.Sprintf("leash-test-%d", os.Getpid())
	cleanup := func() { removeTree(fs.Dir(prefix)) }
	for _, p := range paths {
		if err := os.MkdirAll(fs.Dir(prefix+"/"+p), 0o755); err != nil {
			cleanup()
			return nil, func() {}, fmt.Errorf("test: make the cgroup of a program case: %w", err)
		}
	}
	res.RootCgroups(prefix, fs)
	return func(p string) (string, []uint64, error) {
		ids, err := fs.Path(prefix + "/" + p)
		return fs.Dir(prefix + "/" + p), ids, err
	}, cleanup, nil
}

// removeTree removes the empty cgroup directories below and at dir,
// deepest first (cgroup directories are removed with rmdir, never
// recursively: their files are the kernel's).
func removeTree(dir string) {
	var dirs []string
	filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err == nil && e.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		os.Remove(dirs[i])
	}
}
