//go:build unix

package denylog

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/leash-dev/leash/internal/safefile"
)

// openNoFollow opens a file of the history directory without following a
// symlink (O_NOFOLLOW: ELOOP) and without blocking on a FIFO, and returns
// it only if it is a regular file: the collector runs as root, and a
// symlink planted at a segment or the lock must not make it write (or
// leash log read) another file.
func openNoFollow(path string, flag int, perm os.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, flag|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, perm)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		if err == nil {
			err = &os.PathError{Op: "open", Path: path, Err: fmt.Errorf("not a regular file (%s)", fi.Mode().Type())}
		}
		return nil, err
	}
	return f, nil
}

// trustedDir refuses a history directory that another user could change
// (safefile.CheckTrustedDir): she could forge or delete the denials leash
// log shows.
func trustedDir(dir string) error {
	if err := safefile.CheckTrustedDir(dir); err != nil {
		return fmt.Errorf("denylog: refusing the history directory, which another user could change: %w", err)
	}
	return nil
}
