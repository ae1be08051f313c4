package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// MakeRun makes the cgroup a `leash run` command starts in: the new child
// `leash-run-ID` of governed path g (g and its missing ancestors are made
// first). It returns the child's path and the directories it made above
// it, which are new cgroups on the way to a governed one: until they are
// classified (engine.UpdateLive), their packets are held.
func (f *FS) MakeRun(g, id string) (run string, made []string, err error) {
	for _, a := range Ancestors(g)[1:] {
		switch err := os.Mkdir(f.Dir(a), 0o755); {
		case err == nil:
			made = append(made, a)
		case !errors.Is(err, os.ErrExist):
			return "", made, fmt.Errorf("make cgroup %s: %w", a, err)
		}
	}
	run = path.Join(g, "leash-run-"+id)
	if err := os.Mkdir(f.Dir(run), 0o755); err != nil {
		return "", made, fmt.Errorf("make cgroup %s: %w", run, err)
	}
	return run, made, nil
}

// OpenDir opens cgroup p's directory for CLONE_INTO_CGROUP
// (syscall.SysProcAttr.UseCgroupFD).
func (f *FS) OpenDir(p string) (int, error) {
	fd, err := unix.Open(f.Dir(p), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open cgroup %s: %w", p, err)
	}
	return fd, nil
}

// Remove removes the empty cgroup p; one that still has processes (a
// daemon the command left behind) stays, with an error saying so.
func (f *FS) Remove(p string) error {
	err := unix.Rmdir(f.Dir(p))
	switch {
	case err == nil, errors.Is(err, unix.ENOENT):
		return nil
	case errors.Is(err, unix.EBUSY):
		return fmt.Errorf("cgroup %s still has processes; it stays (and they stay confined) until they end: rmdir %s then", p, f.Dir(p))
	}
	return fmt.Errorf("remove cgroup %s: %w", p, err)
}

// SystemdRunArgs is the systemd-run command that runs argv in a new scope
// unit in slice (a `.slice` unit name): where systemd is PID 1 it owns
// the tree, and the scope it makes (SLICE-PATH/run-….scope) is below the
// governed slice before argv runs.
func SystemdRunArgs(slice string, argv []string) []string {
	return append([]string{"systemd-run", "--scope", "--quiet", "--collect", "--slice=" + slice, "--"}, argv...)
}

// SliceOf is the .slice unit whose cgroup is path p ("" if p is not a
// slice's path: its last component must end in .slice).
func SliceOf(p string) string {
	last := p[strings.LastIndexByte(p, '/')+1:]
	if strings.HasSuffix(last, ".slice") {
		return last
	}
	return ""
}
