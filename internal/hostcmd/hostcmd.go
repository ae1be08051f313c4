// Package hostcmd runs the host's helper programs (getent, systemctl, ip)
// by absolute path, never through $PATH.
//
// leash runs as root, often from an admin's shell or sudo, whose $PATH may
// start with a directory someone else can write (., ~/bin, a project's
// bin). A program found there would run as root and could lie to leash: a
// fake `getent passwd` moves a restricted user to another uid, a fake
// `ip` or `systemctl` runs anything. Like sudo's secure_path, helpers are
// looked up only in the system directories root owns (Dirs), and run with
// that same list as their PATH.
package hostcmd

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Dirs are the directories helpers are found in, in order: the default
// secure_path of sudo and root's PATH on Debian.
func Dirs() []string {
	return []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}
}

// Find returns the absolute path of the helper called name: the first
// executable regular file of that name in Dirs. name must be a bare
// program name. A missing helper gives an error wrapping exec.ErrNotFound.
func Find(name string) (string, error) {
	if name == "" || strings.ContainsRune(name, '/') {
		return "", fmt.Errorf("hostcmd: %q: want a program name without a directory", name)
	}
	for _, dir := range Dirs() {
		path := filepath.Join(dir, name)
		if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return path, nil
		}
	}
	return "", fmt.Errorf("%s: not found in %s: %w", name, strings.Join(Dirs(), ":"), exec.ErrNotFound)
}

// Command is exec.CommandContext for the helper called name, found with
// Find and run with PATH set to Dirs (the rest of the environment is
// inherited).
func Command(ctx context.Context, name string, args ...string) (*exec.Cmd, error) {
	path, err := Find(name)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(withoutPath(os.Environ()), "PATH="+strings.Join(Dirs(), ":"))
	return cmd, nil
}

// Output runs the helper called name and returns its standard output (the
// signature of identity.Runner).
func Output(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd, err := Command(ctx, name, args...)
	if err != nil {
		return nil, err
	}
	return cmd.Output()
}

// CombinedOutput runs the helper called name and returns its standard
// output and standard error.
func CombinedOutput(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd, err := Command(ctx, name, args...)
	if err != nil {
		return nil, err
	}
	return cmd.CombinedOutput()
}

// withoutPath returns env without its PATH entries.
func withoutPath(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "PATH=") {
			out = append(out, kv)
		}
	}
	return out
}
