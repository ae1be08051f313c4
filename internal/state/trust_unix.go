//go:build unix

package state

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/leash-dev/leash/internal/safefile"
)

// A state directory decides what the kernel enforces, now (rollback) and
// at the next boot (restore loads `current`'s table). One that another
// user can write is refused for every read and write: she could rewrite
// `current` or a generation, or plant a symlink at `lock` or `revert.log`
// that makes root truncate or create a file of her choosing. Files in it
// are also opened without following symlinks (O_NOFOLLOW), and new files
// are created under fresh names with O_CREAT|O_EXCL (renameio) and renamed
// into place, which replaces a symlink instead of writing through it.

// CheckDir returns an error wrapping a *safefile.Error unless the state
// directory (if it exists) and every directory above it can be changed
// only by root and the user running leash: owned by root or the effective
// uid, not writable by group or others (directories above it may be, if
// sticky). The message says what to fix.
func (s *Store) CheckDir() error {
	if err := safefile.CheckTrustedDir(s.Dir); err != nil {
		return fmt.Errorf("state: refusing the state directory, which another user could change: %w", err)
	}
	return nil
}

// readFile reads a state file after checking the directory, without
// following a symlink at path, and only if it is a regular file. It reads
// the whole file: the state is leash's own writing in a trusted directory,
// and a generation of a large policy (200,000 rules) is well over the
// 64 MiB that safefile allows user-supplied files; cutting it would make
// the generation unreadable and the next boot load the emergency table.
// A file that is still growing is read up to its size when opened.
func (s *Store) readFile(path string) ([]byte, error) {
	if err := s.CheckDir(); err != nil {
		return nil, err
	}
	f, err := openNoFollow(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	b := make([]byte, fi.Size())
	n, err := io.ReadFull(f, b)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return b[:n], nil
}

// openNoFollow opens path with O_NOFOLLOW|O_CLOEXEC (a symlink fails with
// ELOOP) and O_NONBLOCK (a FIFO does not block), and returns it only if it
// is a regular file.
func openNoFollow(path string, flag int, perm os.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, flag|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, perm)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = &os.PathError{Op: "open", Path: path, Err: fmt.Errorf("not a regular file (%s)", fi.Mode().Type())}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
