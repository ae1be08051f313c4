package netns

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Identity is what names a network namespace across leash's records.
type Identity struct {
	// Init: the host's namespace (PID 1's).
	Init bool
	// Name is its name under Dir, "" if it has none.
	Name  string
	Inode uint64
}

// Identify tells which namespace leash works in: the named one (name, as
// --netns gives it), or this thread's own when name is "" (for `ip netns
// exec NAME leash ...`, whose name is found under Dir by its inode).
func Identify(name string) (Identity, error) {
	path := "/proc/thread-self/ns/net"
	if name != "" {
		path = filepath.Join(Dir, name)
	}
	ino, err := inode(path)
	if err != nil {
		return Identity{}, err
	}
	id := Identity{Init: isInit(ino), Name: name, Inode: ino}
	if name == "" && !id.Init {
		id.Name = nameOf(ino)
	}
	return id, nil
}

// initInode is the inode of the host's network namespace on kernels that
// give it a fixed one (PROC_NET_INIT_INO, Linux 6.x); older kernels number
// it at boot, and PID 1's namespace tells.
const initInode = 0xEFFFFFF9

// isInit reports whether ino is the host's namespace: the fixed init inode,
// or PID 1's namespace (readable where PID 1 is not shielded from root, as
// it is in some sandboxes).
func isInit(ino uint64) bool {
	if ino == initInode {
		return true
	}
	pid1, err := inode("/proc/1/ns/net")
	return err == nil && ino == pid1
}

// inode is the inode of a namespace file (nsfs): the namespace's identity.
func inode(path string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, fmt.Errorf("netns: %s: %w", path, err)
	}
	return st.Ino, nil
}

// nameOf is the name under Dir of the namespace with inode ino ("" if none).
func nameOf(ino uint64) string {
	entries, _ := os.ReadDir(Dir)
	for _, e := range entries {
		if i, err := inode(filepath.Join(Dir, e.Name())); err == nil && i == ino {
			return e.Name()
		}
	}
	return ""
}
