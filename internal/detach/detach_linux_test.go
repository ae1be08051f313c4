package detach

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The child runs in its own session, in /, with stdin from /dev/null and
// its output in the log, and Start returns before it ends.
func TestStart(t *testing.T) {
	log := filepath.Join(t.TempDir(), "child.log")
	script := `read line; echo "stdin=[$line] cwd=$(pwd) pid=$$"; sleep 0.3; echo done`
	start := time.Now()
	pid, err := Start([]string{"/bin/sh", "-c", script}, log)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 250*time.Millisecond {
		t.Errorf("Start took %s: it waited for the child", took)
	}
	if sid, err := unix.Getsid(pid); err == nil && sid != pid {
		t.Errorf("child %d is in session %d, want its own", pid, sid)
	}
	var out string
	for range 100 { // up to 5s
		b, _ := os.ReadFile(log)
		if out = string(b); strings.Contains(out, "done") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	want := "stdin=[] cwd=/ pid=" + strconv.Itoa(pid) + "\ndone\n"
	if out != want {
		t.Errorf("log = %q, want %q", out, want)
	}
}

func TestRunning(t *testing.T) {
	log := filepath.Join(t.TempDir(), "child.log")
	pid, err := Start([]string{"/bin/sh", "-c", "sleep 5; true", "leash-marker"}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Kill(pid, unix.SIGKILL)
	// Start returns once the child has exec'd; the shell stays (it has
	// more to do after sleep), so its command line keeps the marker.
	if !Running(pid, "leash-marker") {
		t.Errorf("Running(%d) = false for a live child", pid)
	}
	if Running(pid, "other-marker") {
		t.Errorf("Running(%d) = true with a marker its command line lacks", pid)
	}
	if Running(0, "") || Running(-1, "") {
		t.Error("Running of pid 0 or -1 = true")
	}
	unix.Kill(pid, unix.SIGKILL)
	for range 100 {
		if !Running(pid, "leash-marker") {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("Running(%d) = true after SIGKILL", pid)
}

// TestStartLogSymlinkRefused: a symlink at the log path (a user's, at
// revert.log) is refused: root neither creates nor appends to its target.
func TestStartLogSymlinkRefused(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "created-by-root")
	logPath := filepath.Join(dir, "revert.log")
	if err := os.Symlink(target, logPath); err != nil {
		t.Fatal(err)
	}
	if pid, err := Start([]string{"/bin/true"}, logPath); err == nil {
		t.Fatalf("Start with a symlinked log started pid %d", pid)
	}
	if _, err := os.Lstat(target); !os.IsNotExist(err) {
		t.Errorf("the symlink's target was created: %v", err)
	}
}
