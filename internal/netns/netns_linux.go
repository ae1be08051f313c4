// Package netns creates, enters and removes named network namespaces.
//
// It is the one namespace mechanism of leash: the sandbox of `leash test`, the
// kernel tests and the benchmarks all build on it. Namespaces are created the
// way `ip netns add NAME` does (a bind mount under /run/netns), so an operator
// can inspect a live one with `ip netns exec NAME nft list ruleset`.
package netns

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// Dir is where named namespaces are mounted, as iproute2 expects.
const Dir = "/run/netns"

// NS is a handle on a named network namespace. A namespace made by Create is
// owned: Close removes it. One found by Open is borrowed: Close only releases
// the handle and leaves the namespace in place.
type NS struct {
	Name  string
	file  *os.File
	owned bool
}

// Create makes a new, empty network namespace named name (loopback down, no
// other interfaces) and mounts it at /run/netns/NAME. The calling goroutine's
// namespace is unchanged. It fails if the name is taken.
func Create(name string) (*NS, error) {
	if name == "" || strings.ContainsAny(name, "/\x00") {
		return nil, fmt.Errorf("netns: invalid name %q", name)
	}
	if err := ensureDir(); err != nil {
		return nil, err
	}
	path := filepath.Join(Dir, name)
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return nil, fmt.Errorf("netns: create mount point %s: %w", path, err)
	}
	f.Close()
	if err := mountNew(path); err != nil {
		os.Remove(path)
		return nil, err
	}
	file, err := os.Open(path)
	if err != nil {
		unix.Unmount(path, unix.MNT_DETACH)
		os.Remove(path)
		return nil, fmt.Errorf("netns: open %s: %w", path, err)
	}
	return &NS{Name: name, file: file, owned: true}, nil
}

// ensureDir makes sure /run/netns exists. (Unlike iproute2 it does not make
// the directory a shared mount point: leash and its tests run in the host's
// mount namespace, where the bind mounts are visible as they are.)
func ensureDir() error {
	if err := os.MkdirAll(Dir, 0o755); err != nil {
		return fmt.Errorf("netns: %w", err)
	}
	return nil
}

// mountNew unshares a new network namespace on a locked thread, bind-mounts it
// at path, and puts the thread back. The thread is discarded if it cannot be
// restored, so no goroutine ever runs in the wrong namespace.
func mountNew(path string) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- fmt.Errorf("netns: %w", err)
			return // thread stays locked and exits with the goroutine
		}
		defer orig.Close()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("netns: unshare(CLONE_NEWNET): %w (leash needs root, CAP_SYS_ADMIN)", err)
			return
		}
		err = unix.Mount("/proc/thread-self/ns/net", path, "none", unix.MS_BIND, "")
		if err != nil {
			err = fmt.Errorf("netns: bind mount %s: %w", path, err)
		}
		if rerr := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); rerr == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// Open returns a borrowed handle on the namespace mounted at /run/netns/NAME
// (made by Create or by `ip netns add`). Close on it does not remove the
// namespace.
func Open(name string) (*NS, error) {
	file, err := os.Open(filepath.Join(Dir, name))
	if err != nil {
		return nil, fmt.Errorf("netns: %w", err)
	}
	return &NS{Name: name, file: file}, nil
}

// Fd is a file descriptor referring to the namespace, valid until Close; use
// it with nftables.WithNetNSFd or netlink.Config.NetNS.
func (ns *NS) Fd() int { return int(ns.file.Fd()) }

// Path is the namespace's mount point.
func (ns *NS) Path() string { return filepath.Join(Dir, ns.Name) }

// Do runs fn on a goroutine locked to an OS thread that has entered the
// namespace, and waits for it. Sockets fn creates belong to the namespace;
// processes it starts with os/exec are born in it. The thread is restored
// afterwards, or discarded if it cannot be.
func (ns *NS) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- fmt.Errorf("netns: %w", err)
			return
		}
		defer orig.Close()
		if err := unix.Setns(ns.Fd(), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("netns: enter %s: %w", ns.Name, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err == nil {
			runtime.UnlockOSThread()
		}
		errc <- ferr
	}()
	return <-errc
}

// DoIn runs fn in the namespace mounted at /run/netns/NAME, as Do does, or
// directly on the calling goroutine when name is "" (the current one).
func DoIn(name string, fn func() error) error {
	if name == "" {
		return fn()
	}
	ns, err := Open(name)
	if err != nil {
		return err
	}
	defer ns.Close()
	return ns.Do(fn)
}

// Close releases the handle and, for a namespace made by Create, unmounts and
// removes it; the kernel frees it once no process or descriptor refers to it.
// Close is idempotent.
func (ns *NS) Close() error {
	if ns.file == nil {
		return nil
	}
	ns.file.Close()
	ns.file = nil
	if !ns.owned {
		return nil
	}
	return Remove(ns.Name)
}

// Remove unmounts and deletes the namespace mounted at /run/netns/NAME, like
// `ip netns delete NAME`. Use it for leftovers of a process that died before
// closing what it created. A missing namespace is not an error.
func Remove(name string) error {
	path := filepath.Join(Dir, name)
	var errs []error
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		errs = append(errs, fmt.Errorf("netns: unmount %s: %w", path, err))
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("netns: %w", err))
	}
	return errors.Join(errs...)
}
