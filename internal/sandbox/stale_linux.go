package sandbox

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/leash-dev/leash/internal/netns"
)

// removeStale removes the namespaces and temporary directories of sandboxes
// whose process is gone (killed before it could Close). Entries of live
// processes, including this one, are left alone. Failures are logged: a
// leftover must not stop a new sandbox.
func removeStale(log *slog.Logger) {
	entries, _ := os.ReadDir(netns.Dir)
	for _, e := range entries {
		if !isStale(e.Name()) {
			continue
		}
		err := netns.Remove(e.Name())
		log.Info("sandbox: removed stale namespace", "name", e.Name(), "err", err)
	}
	tmp := workRoot
	dirs, _ := os.ReadDir(tmp)
	for _, e := range dirs {
		if e.IsDir() && isStale(e.Name()) {
			err := os.RemoveAll(filepath.Join(tmp, e.Name()))
			log.Info("sandbox: removed stale directory", "name", e.Name(), "err", err)
		}
	}
}

// isStale reports whether name is a sandbox entry (leash-sbx-<pid>-...) whose
// process no longer exists.
func isStale(name string) bool {
	rest, ok := strings.CutPrefix(name, namePrefix)
	if !ok {
		return false
	}
	pidText, _, _ := strings.Cut(rest, "-")
	pid, err := strconv.Atoi(pidText)
	if err != nil || pid <= 0 {
		return false
	}
	return !processExists(pid)
}

// processExists reports whether pid is a live process (signal 0 probes it).
func processExists(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || !errors.Is(err, unix.ESRCH)
}
