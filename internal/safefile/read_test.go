package safefile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestReadRefuses(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sparse := filepath.Join(dir, "sparse")
	if f, err := os.Create(sparse); err != nil {
		t.Fatal(err)
	} else if err := f.Truncate(3 << 30); err != nil {
		t.Fatal(err)
	} else {
		f.Close()
	}
	link := filepath.Join(dir, "policy.yaml")
	if err := os.Symlink(sparse, link); err != nil {
		t.Fatal(err)
	}
	fifoLink := filepath.Join(dir, "fifo-link")
	if err := os.Symlink(fifo, fifoLink); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, path, want string }{
		{name: "FIFO", path: fifo, want: fifo + ": is a FIFO (named pipe), not a regular file; leash reads only regular files (copy it to one)"},
		{name: "symlink to a FIFO", path: fifoLink, want: fifoLink + ": is a FIFO (named pipe), not a regular file; leash reads only regular files (copy it to one)"},
		{name: "endless device", path: "/dev/zero", want: "/dev/zero: is a character device, not a regular file; leash reads only regular files (copy it to one)"},
		{name: "directory", path: dir, want: dir + ": is a directory, not a regular file; leash reads only regular files (copy it to one)"},
		{name: "symlink to a 3 GiB sparse file", path: link, want: link + ": is larger (3.0 GiB) than the 64 MiB leash reads; is it the right file?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				_, err := Read(tt.path)
				done <- err
			}()
			select {
			case err := <-done:
				var fe *Error
				if !errors.As(err, &fe) || err.Error() != tt.want {
					t.Errorf("Read error = %v (%T)\nwant %s", err, err, tt.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Read blocked")
			}
		})
	}
}

func TestReadRegular(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.yaml")
	want := []byte("version: 1\n")
	if err := os.WriteFile(path, want, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.yaml")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, link} {
		if got, err := Read(p); err != nil || !bytes.Equal(got, want) {
			t.Errorf("Read(%s) = %q, %v", p, got, err)
		}
	}
	if _, err := Read(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read(missing) = %v, want fs.ErrNotExist", err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := Read(empty); err != nil || len(got) != 0 {
		t.Errorf("Read(empty) = %q, %v", got, err)
	}
}

// TestReadAtLimit: a file of exactly MaxSize is read, one byte more is not.
func TestReadAtLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 64 MiB")
	}
	path := filepath.Join(t.TempDir(), "big")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(MaxSize); err != nil {
		t.Fatal(err)
	}
	if got, err := Read(path); err != nil || len(got) != MaxSize {
		t.Fatalf("Read(MaxSize) = %d bytes, %v", len(got), err)
	}
	if err := f.Truncate(MaxSize + 1); err != nil {
		t.Fatal(err)
	}
	var fe *Error
	if _, err := Read(path); !errors.As(err, &fe) {
		t.Errorf("Read(MaxSize+1) = %v, want *Error", err)
	}
}

// endless is a reader that never ends (a file that keeps growing after
// Stat, or a device), counting what was read from it.
type endless struct{ read int64 }

func (e *endless) Read(p []byte) (int, error) {
	clear(p)
	e.read += int64(len(p))
	return len(p), nil
}

// TestReadStopsAtLimit: however a file grows, no more than MaxSize+1
// bytes of it are read before it is refused (the buffer's growth once let
// a read of /dev/zero take about 75 MiB).
func TestReadStopsAtLimit(t *testing.T) {
	for _, size := range []int64{0, 4096, MaxSize} { // as Stat saw it
		r := &endless{}
		_, err := readAtMost(r, "grows", size)
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("size %d: error %v, want *Error", size, err)
		}
		if r.read != MaxSize+1 {
			t.Errorf("size %d: read %d bytes, want at most MaxSize+1 = %d", size, r.read, MaxSize+1)
		}
	}
}
