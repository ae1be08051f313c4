//go:build unix

package safefile

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Files and directories that change what the kernel enforces (the policy
// file given to `leash apply`, the state directory) must be ones only root
// and the user running leash can change, as sudo and sshd's StrictModes
// require: owned by root or the effective uid, not writable by group or
// others, and in directories that are likewise (or sticky, like /tmp,
// where others cannot rename or delete what they do not own). Otherwise
// another local user could edit or swap the file between the admin's
// review and the kernel, or plant a table for the next boot.

// trusted reports whether uid may own a file leash trusts: root or the
// effective uid of this process.
func trusted(uid uint32) bool { return uid == 0 || uid == uint32(os.Geteuid()) }

// CheckTrustedFile returns an *Error unless path, after following
// symlinks, is a regular file owned by root or the effective user, not
// writable by group or others, in directories that pass CheckTrustedDirs.
// The message says what to fix (chmod, chown).
func CheckTrustedFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if err := Regular(path, fi); err != nil {
		return err
	}
	if err := owner(path, fi, "file"); err != nil {
		return err
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return &Error{Path: path, Problem: fmt.Sprintf("is writable by %s (mode %04o), so another user could change it; fix: chmod go-w %s", writers(fi.Mode()), fi.Mode().Perm(), path)}
	}
	return checkParents(path)
}

// CheckTrustedDir returns an *Error unless the directory dir, after
// following symlinks, is owned by root or the effective user and not
// writable by group or others (the sticky bit does not make up for it
// here: the directory is leash's own), in directories that pass the
// parents' check. A dir that does not exist passes if its existing
// parents do (leash creates it, mode 0700).
func CheckTrustedDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case os.IsNotExist(err):
		return checkParents(dir)
	case err != nil:
		return err
	case !fi.IsDir():
		return &Error{Path: dir, Problem: "is not a directory"}
	}
	if err := owner(dir, fi, "directory"); err != nil {
		return err
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return &Error{Path: dir, Problem: fmt.Sprintf("is writable by %s (mode %04o), so another user could plant or replace files in it; fix: chmod go-w %s", writers(fi.Mode()), fi.Mode().Perm(), dir)}
	}
	return checkParents(dir)
}

// checkParents checks every existing directory above path, both along
// the path as written and along the path its symlinks lead to: each must
// be owned by root or the effective user, and be writable by group or
// others only if it is sticky.
func checkParents(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	paths := []string{abs}
	if real, err := filepath.EvalSymlinks(abs); err == nil && real != abs {
		paths = append(paths, real)
	}
	for _, p := range paths {
		for dir := filepath.Dir(p); ; dir = filepath.Dir(dir) {
			if err := checkParent(dir); err != nil {
				return err
			}
			if dir == filepath.Dir(dir) {
				break
			}
		}
	}
	return nil
}

func checkParent(dir string) error {
	fi, err := os.Stat(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := owner(dir, fi, "directory"); err != nil {
		return err
	}
	if fi.Mode().Perm()&0o022 != 0 && fi.Mode()&fs.ModeSticky == 0 {
		return &Error{Path: dir, Problem: fmt.Sprintf("is writable by %s (mode %04o) and not sticky, so another user could replace what is in it; fix: chmod go-w %s", writers(fi.Mode()), fi.Mode().Perm(), dir)}
	}
	return nil
}

// owner returns an *Error unless fi (of path, a file or directory) is
// owned by a trusted uid.
func owner(path string, fi fs.FileInfo, what string) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return &Error{Path: path, Problem: "cannot tell its owner"}
	}
	if trusted(st.Uid) {
		return nil
	}
	return &Error{Path: path, Problem: fmt.Sprintf("is owned by uid %d, not by root or uid %d running leash, so that user could change it; fix: chown root %s (after checking the %s)", st.Uid, os.Geteuid(), path, what)}
}

// writers names who besides the owner may write: "group", "others", or
// "group and others".
func writers(m fs.FileMode) string {
	switch m.Perm() & 0o022 {
	case 0o020:
		return "its group"
	case 0o002:
		return "others"
	}
	return "its group and others"
}
