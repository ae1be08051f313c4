// Package safefile reads and checks the files leash is pointed at: policy
// files, --passwd and --group, /etc/services, the hosts file, resolv.conf.
//
// Those paths come from the command line or the system, and something
// other than a file may sit there: a FIFO blocks a reader for ever (and a
// blocked open ignores SIGTERM), /dev/zero or /dev/urandom never end, and a
// symlink to a 3 GB sparse file is read whole into memory before the
// first parse error. Read accepts only regular files (after following
// symlinks), up to MaxSize, and says what is wrong with anything else.
package safefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// MaxSize is the largest file Read accepts: 64 MiB. A policy with 100,000
// users and destinations is a few MiB; so is a passwd file of 100,000
// users.
const MaxSize = 64 << 20

// Error is a file leash refuses to use, with what is wrong and what to do.
// Commands exit with status 2 (invalid input) for it.
type Error struct {
	Path    string
	Problem string
}

func (e *Error) Error() string { return e.Path + ": " + e.Problem }

// Read returns the contents of the regular file at path, following
// symlinks. Anything else (a FIFO, a device, a socket, a directory) and a
// file larger than MaxSize give an *Error; other failures (no such file,
// permission denied) are returned as the *fs.PathError of open or read.
// Opening never blocks: the open is non-blocking, so a FIFO without a
// writer is refused at once.
func Read(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := Regular(path, fi); err != nil {
		return nil, err
	}
	return readAtMost(f, path, fi.Size())
}

// readAtMost reads r (the file at path, of size bytes when it was looked
// at) to its end, but never more than MaxSize+1 bytes of it: the file may
// grow after Stat, or never end. More is a tooLarge error.
func readAtMost(r io.Reader, path string, size int64) ([]byte, error) {
	buf := make([]byte, 0, min(size, MaxSize)+1)
	for {
		n, err := r.Read(buf[len(buf):min(cap(buf), MaxSize+1)])
		buf = buf[:len(buf)+n]
		if len(buf) > MaxSize {
			return nil, tooLarge(path, int64(len(buf)))
		}
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
	}
}

// Regular returns an *Error unless fi (of path) is a regular file of at
// most MaxSize bytes.
func Regular(path string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return &Error{Path: path, Problem: fmt.Sprintf("is %s, not a regular file; leash reads only regular files (copy it to one)", kind(fi.Mode()))}
	}
	if fi.Size() > MaxSize {
		return tooLarge(path, fi.Size())
	}
	return nil
}

// tooLarge is the error for a file of at least size bytes.
func tooLarge(path string, size int64) error {
	what := fmt.Sprintf("%.1f MiB", float64(size)/(1<<20))
	if size >= 1<<30 {
		what = fmt.Sprintf("%.1f GiB", float64(size)/(1<<30))
	}
	return &Error{Path: path, Problem: fmt.Sprintf("is larger (%s) than the %d MiB leash reads; is it the right file?", what, MaxSize>>20)}
}

// kind names a non-regular file type: "a FIFO", "a directory", ...
func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO (named pipe)"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "a special file"
}
