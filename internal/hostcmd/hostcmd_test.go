package hostcmd

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leash-dev/leash/internal/kerneltest"
)

// hostilePath puts a directory first in PATH whose getent, env and
// systemctl print "FAKE" (what a user-writable directory in root's PATH
// could hold) and returns that directory.
func hostilePath(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"getent", "env", "systemctl", "ip"} {
		script := "#!/bin/sh\necho 'FAKE:x:0:0::/:/bin/sh'\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
	return dir
}

// TestHostilePathIgnored: with a hostile directory first in PATH, Output
// runs the system's getent, and gives the same answer as without it.
func TestHostilePathIgnored(t *testing.T) {
	want, err := Output(context.Background(), "getent", "passwd", "root")
	if err != nil {
		kerneltest.Unavailable(t, "no getent on this host: %v", err)
	}
	dir := hostilePath(t)
	if p, _ := exec.LookPath("getent"); p != filepath.Join(dir, "getent") {
		t.Fatalf("test setup: PATH finds %s, want the hostile one", p)
	}
	got, err := Output(context.Background(), "getent", "passwd", "root")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(got, []byte("FAKE")) || !bytes.Equal(got, want) {
		t.Errorf("getent passwd root with a hostile PATH = %q, want %q", got, want)
	}
	if p, err := Find("getent"); err != nil || strings.HasPrefix(p, dir) || !filepath.IsAbs(p) {
		t.Errorf("Find(getent) = %q, %v; want an absolute path outside %s", p, err, dir)
	}
}

// TestHelpersGetSecurePath: a helper's own PATH is Dirs, so what it runs
// in turn is not found in the hostile directory either.
func TestHelpersGetSecurePath(t *testing.T) {
	hostilePath(t)
	out, err := Output(context.Background(), "env")
	if err != nil {
		kerneltest.Unavailable(t, "no env on this host: %v", err)
	}
	if bytes.Contains(out, []byte("FAKE")) {
		t.Fatalf("ran the hostile env: %q", out)
	}
	want := "PATH=" + strings.Join(Dirs(), ":")
	if !strings.Contains(string(out), want+"\n") {
		t.Errorf("helper environment has no %s:\n%s", want, out)
	}
}

func TestFindRefuses(t *testing.T) {
	for _, name := range []string{"", "./getent", "/usr/bin/getent", "../bin/sh"} {
		if _, err := Find(name); err == nil {
			t.Errorf("Find(%q) succeeded", name)
		}
	}
	if _, err := Find("no-such-leash-helper"); !errors.Is(err, exec.ErrNotFound) {
		t.Errorf("Find(missing) = %v, want exec.ErrNotFound", err)
	}
}
