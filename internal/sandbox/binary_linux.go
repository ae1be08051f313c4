package sandbox

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// installProbe copies the probe executable (argv[0] of a non-empty command) into dir,
// mode 0755, and returns command with argv[0] replaced by the copy, so that
// any uid can run it whatever the permissions of its original directory
// (root's home and `go test` build directories are 0700).
func installProbe(command []string, dir string) ([]string, error) {
	src, err := exec.LookPath(command[0])
	if err != nil {
		return nil, fmt.Errorf("sandbox: probe executable: %w", err)
	}
	dst := filepath.Join(dir, "probe")
	if err := copyFile(src, dst, 0o755); err != nil {
		return nil, fmt.Errorf("sandbox: install probe executable %s: %w", src, err)
	}
	return append([]string{dst}, command[1:]...), nil
}

// copyFile copies src to a new file dst with the given mode.
func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, mode) // not subject to the umask
}

// workRoot is where sandboxes keep their files: /tmp, not $TMPDIR, because
// probes run as other uids and must be able to reach the probe executable;
// $TMPDIR may be private to root (pam_tmpdir sets it to a 0700 directory).
const workRoot = "/tmp"

// makeWorkDir creates the sandbox's temporary directory, readable and
// searchable by every uid. Its name carries the pid, like the namespaces', so
// removeStale can find leftovers.
func makeWorkDir(pid int) (string, error) {
	dir, err := os.MkdirTemp(workRoot, fmt.Sprintf("%s%d-", namePrefix, pid))
	if err != nil {
		return "", fmt.Errorf("sandbox: temporary directory: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("sandbox: temporary directory: %w", err)
	}
	return dir, nil
}
