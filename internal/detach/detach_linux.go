// Package detach starts processes that outlive the leash that starts them,
// such as the reverter of `leash apply --confirm`.
package detach

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// Start runs argv (argv[0] is the program's path) as a detached process and
// returns its pid without waiting for it:
//
//   - in a new session (setsid), so it has no controlling terminal and a
//     hangup or Ctrl-C of the caller's terminal does not reach it;
//   - stdin from /dev/null, stdout and stderr appended to logPath (created
//     with mode 0600 if needed; a symlink or non-regular file there is
//     refused);
//   - working directory /, so it holds no directory busy.
//
// When the caller exits, the child is reparented to init and lives on.
func Start(argv []string, logPath string) (int, error) {
	if len(argv) == 0 {
		return 0, fmt.Errorf("detach: empty command")
	}
	// O_NOFOLLOW: a symlink at logPath is refused, so root never creates
	// or appends to a file someone else chose.
	log, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0o600)
	if err != nil {
		return 0, fmt.Errorf("detach: open log: %w", err)
	}
	if fi, err := log.Stat(); err != nil || !fi.Mode().IsRegular() {
		log.Close()
		return 0, fmt.Errorf("detach: log %s is not a regular file", logPath)
	}
	defer log.Close() // the child has its own copy
	null, err := os.Open(os.DevNull)
	if err != nil {
		return 0, fmt.Errorf("detach: %w", err)
	}
	defer null.Close()
	cmd := &exec.Cmd{
		Path:        argv[0],
		Args:        argv,
		Dir:         "/",
		Stdin:       null,
		Stdout:      log,
		Stderr:      log,
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("detach: start %s: %w", argv[0], err)
	}
	pid := cmd.Process.Pid
	if err := cmd.Process.Release(); err != nil {
		return pid, fmt.Errorf("detach: release %d: %w", pid, err)
	}
	return pid, nil
}

// Running reports whether pid is a live process whose command line
// contains marker (so that a reused pid does not pass for the process
// that was started). A pid of 0 or less, a zombie, or a process running
// another program is not running; one caught in its execve (no command
// line yet) counts as running.
func Running(pid int, marker string) bool {
	if pid <= 0 {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses: Z (zombie) and X
	// (dead) are not running, whatever their command line was.
	if i := bytes.LastIndexByte(stat, ')'); i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' || stat[i+2] == 'X' {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	// An empty command line is a process in the middle of its execve (the
	// new arguments are not mapped yet): not known to be another program.
	return len(b) == 0 || bytes.Contains(b, []byte(marker))
}
