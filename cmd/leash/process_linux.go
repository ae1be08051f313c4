package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	sdaemon "github.com/coreos/go-systemd/v22/daemon"

	"github.com/leash-dev/leash/internal/daemon"
	"github.com/leash-dev/leash/internal/detach"
	"github.com/leash-dev/leash/internal/hostcmd"
)

// spawner starts exe (this leash) detached with the given arguments; where
// systemd runs, in a transient scope of its own (systemd-run --scope), so
// that stopping the caller's login session (logind's KillUserProcesses, a
// user-slice stop) does not kill it.
func spawner(exe string) func(args []string, logPath string) (int, error) {
	return func(args []string, logPath string) (int, error) {
		return detach.Start(detachedArgv(exe, args, systemdRun()), logPath)
	}
}

// systemdRun is systemd-run's absolute path (hostcmd, never $PATH) when
// systemd is the init system (sd_booted: /run/systemd/system exists), else "".
func systemdRun() string {
	if !hostcmd.SystemdBooted() {
		return ""
	}
	path, err := hostcmd.Find("systemd-run")
	if err != nil {
		return ""
	}
	return path
}

// detachedArgv is the command line that runs exe with args, through
// `systemd-run --scope` when run is systemd-run's path. systemd-run --scope
// execs the command in the new scope, so the pid it is started with is the
// reverter's.
func detachedArgv(exe string, args []string, run string) []string {
	argv := append([]string{exe}, args...)
	if run == "" {
		return argv
	}
	return append([]string{run, "--scope", "--quiet", "--collect", "--description=leash automatic revert", "--"}, argv...)
}

// newWatcher is leash daemon's inotify watcher.
func newWatcher() (daemon.Watcher, error) { return daemon.NewFileWatcher() }

// sdNotify sends state to systemd when it started leash (NOTIFY_SOCKET);
// otherwise it does nothing.
func sdNotify(state string) {
	if strings.HasPrefix(state, "RELOADING=1") {
		state += "\n" + sdaemon.SdNotifyMonotonicUsec()
	}
	_, _ = sdaemon.SdNotify(false, state) // best effort: systemd may not be there
}

// watchdogInterval is half of systemd's WatchdogSec for this service (0
// when there is no watchdog), as sd_watchdog_enabled(3) advises.
func watchdogInterval() time.Duration {
	d, err := sdaemon.SdWatchdogEnabled(false)
	if err != nil || d <= 0 {
		return 0
	}
	return d / 2
}

// systemctl runs systemctl by absolute path (hostcmd), never through $PATH;
// a missing systemctl gives exec.ErrNotFound.
func systemctl(ctx context.Context, args ...string) error {
	out, err := hostcmd.CombinedOutput(ctx, "systemctl", args...)
	if err != nil {
		return fmt.Errorf("systemctl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
