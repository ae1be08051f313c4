package cgroups

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/leash-dev/leash/internal/procinfo"
)

// FS is the host's cgroup2 hierarchy, mounted at Root.
type FS struct {
	Root string
}

// Mount finds the cgroup2 mount in mountinfo (/proc/self/mountinfo): the
// first of type cgroup2, whatever its place (/sys/fs/cgroup on most
// hosts, /sys/fs/cgroup/unified on hybrid ones).
func Mount(mountinfo string) (*FS, error) {
	data, err := os.ReadFile(mountinfo)
	if err != nil {
		return nil, fmt.Errorf("find the cgroup2 mount: %w", err)
	}
	root, ok := parseMountinfo(data)
	if !ok {
		return nil, ErrNoCgroup2
	}
	return &FS{Root: root}, nil
}

// parseMountinfo returns the mount point of the first cgroup2 line:
// `ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER`.
func parseMountinfo(data []byte) (string, bool) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		for i, x := range f {
			if x == "-" && i+1 < len(f) && i >= 5 {
				if f[i+1] == "cgroup2" {
					return unescapeMount(f[4]), true
				}
				break
			}
		}
	}
	return "", false
}

// unescapeMount undoes mountinfo's octal escapes (`\040` for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Dir is the directory of cgroup path p.
func (f *FS) Dir(p string) string { return filepath.Join(f.Root, filepath.FromSlash(p)) }

// ID implements Tree: the inode number of p's directory, which is the
// kernel's cgroup id (what `socket cgroupv2` loads).
func (f *FS) ID(p string) (uint64, bool, error) {
	var st unix.Stat_t
	if err := unix.Stat(f.Dir(p), &st); err != nil {
		if err == unix.ENOENT || err == unix.ENOTDIR {
			return 0, false, nil
		}
		return 0, false, fmt.Errorf("cgroup %q: %w", p, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return 0, false, nil
	}
	return st.Ino, true, nil
}

// Children implements Tree.
func (f *FS) Children(p string) ([]string, error) {
	ents, err := os.ReadDir(f.Dir(p))
	if err != nil {
		if notExist(err) {
			return nil, nil
		}
		return nil, wrapf(err, "cgroup %q", p)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// Of returns the cgroup path of process pid ("self" for the caller), from
// /proc/PID/cgroup's `0::/PATH` line.
func Of(pid string) (string, error) {
	data, err := os.ReadFile(filepath.Join("/proc", pid, "cgroup"))
	if err != nil {
		return "", fmt.Errorf("cgroup of process %s: %w", pid, err)
	}
	if path, ok := procinfo.CgroupV2(data); ok {
		return strings.Trim(path, "/"), nil
	}
	return "", fmt.Errorf("cgroup of process %s: no cgroup2 line in /proc/%s/cgroup", pid, pid)
}

// Path returns the ids of cgroup p and its ancestors by level (index 0 the
// root), stopping at the first that does not exist.
func (f *FS) Path(p string) ([]uint64, error) {
	var ids []uint64
	for _, a := range Ancestors(p) {
		id, ok, err := f.ID(a)
		if err != nil || !ok {
			return ids, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}
