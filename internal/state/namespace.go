package state

import (
	"fmt"
	"path/filepath"
	"strconv"
)

// Namespace identifies the network namespace a record is for: the kernel
// table a generation describes lives in one namespace only, so a record
// must never be acted on from another (a container's generation restored
// at the host's boot is a lock-out, or fail-open).
type Namespace struct {
	// Init is the host's namespace (PID 1's).
	Init bool `json:"init,omitempty"`
	// Name is its name under /run/netns (`ip netns add NAME`), if any:
	// stable across reboots.
	Name string `json:"name,omitempty"`
	// Inode is the namespace's inode: unique while it exists, new when it
	// is recreated.
	Inode uint64 `json:"inode,omitempty"`
}

// Same reports whether n and o are the same namespace: both the host's, or
// the same name, or (both unnamed) the same inode. A record without a
// namespace (nil: written before namespaces were recorded) could be any
// namespace's and is taken as the caller's: refusing it would lock every
// existing installation out at its first boot after an upgrade.
func (n *Namespace) Same(o *Namespace) bool {
	if n == nil || o == nil {
		return true
	}
	a, b := *n, *o
	switch {
	case a.Init || b.Init:
		return a.Init == b.Init
	case a.Name != "" || b.Name != "":
		return a.Name == b.Name
	}
	return a.Inode == b.Inode
}

func (n *Namespace) orInit() Namespace {
	if n == nil {
		return Namespace{Init: true}
	}
	return *n
}

// String names n for people: "the host's network namespace",
// "network namespace web1", "the unnamed network namespace 4026532290".
func (n *Namespace) String() string {
	v := n.orInit()
	switch {
	case v.Init:
		return "the host's network namespace"
	case v.Name != "":
		return "network namespace " + v.Name
	}
	return fmt.Sprintf("the unnamed network namespace %d", v.Inode)
}

// DirFor is the default state directory of namespace n: base (DefaultDir)
// for the host's, base/netns/NAME (or base/netns/inode-N) for another, so
// that two namespaces never share generations.
func DirFor(base string, n *Namespace) string {
	v := n.orInit()
	switch {
	case v.Init:
		return base
	case v.Name != "":
		return filepath.Join(base, "netns", v.Name)
	}
	return filepath.Join(base, "netns", "inode-"+strconv.FormatUint(v.Inode, 10))
}

// NamespaceError says a state directory's record is for another network
// namespace than the one the caller works in.
type NamespaceError struct {
	// What is the record ("generation 3", "the interrupted change").
	What     string
	Recorded *Namespace
	Here     *Namespace
}

func (e *NamespaceError) Error() string {
	return fmt.Sprintf("%s was recorded for %s, but this leash works in %s: this state directory is that namespace's; give this namespace its own --state-dir (the default is %s), or take the directory over with --force-netns",
		e.What, e.Recorded, e.Here, DirFor(DefaultDir, e.Here))
}
