package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/leash-dev/leash/internal/detach"
	"github.com/leash-dev/leash/internal/hostcmd"
)

// spawner starts exe (this leash) detached with the given arguments.
func spawner(exe string) func(args []string, logPath string) (int, error) {
	return func(args []string, logPath string) (int, error) {
		return detach.Start(append([]string{exe}, args...), logPath)
	}
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
