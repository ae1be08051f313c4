package cli

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/engine"
	"github.com/leash-dev/leash/internal/state"
	"github.com/leash-dev/leash/internal/termtext"
)

// Kernel is leash's table in one network namespace (engine.Kernel).
type Kernel = engine.Kernel

// reverterLockTimeout is how long the reverter waits for the lock: long, so
// that a slow apply in the way does not cancel the revert.
const reverterLockTimeout = 10 * time.Minute

// engineFor is the control plane for one invocation: the state directory,
// namespace and lock timeout of the global flags; cmd and args name this
// leash in the lock file (a reader that never locks may pass nil).
func engineFor(cmd *cobra.Command, d Deps, g *globals, args []string) *engine.Engine {
	holder := "leash"
	if cmd != nil {
		holder = strings.Join(append([]string{cmd.CommandPath()}, args...), " ")
	}
	return &engine.Engine{
		Store:         g.store(),
		OpenKernel:    func() (engine.Kernel, error) { return d.OpenKernel(g.netns) },
		Clock:         d.Clock,
		Now:           d.Now,
		StartReverter: func(p *state.Pending) (int, error) { return startReverter(d, g, p) },
		ReverterAlive: reverterAlive(d),
		LockTimeout:   g.lockTimeout,
		Holder:        holder,
		Notify:        func(msg string) { fmt.Fprintf(d.Stderr, "leash: %s\n", termtext.Escape(msg)) },
		CommandLine:   func(sub string) string { return leashCommand(g, sub) },
		NetNS:         g.ns,
		ForceNetNS:    g.forceNetNS,
	}
}

// startReverter launches `leash revert-pending` for p, detached, logging to
// the state directory's revert.log.
func startReverter(d Deps, g *globals, p *state.Pending) (int, error) {
	dir, err := filepath.Abs(g.stateDir)
	if err != nil {
		return 0, fmt.Errorf("state directory: %w", err)
	}
	var args []string
	if g.netns != "" {
		args = append(args, "--netns", g.netns)
	}
	args = append(args, "--state-dir", dir, "--lock-timeout", reverterLockTimeout.String(),
		revertPendingName, "--generation", fmt.Sprint(p.Generation), "--previous", fmt.Sprint(p.Previous),
		"--deadline", p.Deadline.Format(time.RFC3339Nano))
	return d.Spawn(args, filepath.Join(dir, "revert.log"))
}

// reverterAlive tells whether a reverter runs (nil when Deps cannot say).
func reverterAlive(d Deps) func(pid int) bool {
	if d.Running == nil {
		return nil
	}
	return func(pid int) bool { return d.Running(pid, revertPendingName) }
}

// stamp formats a time for people.
func stamp(t time.Time) string { return engine.FormatTime(t) }

// describe names a generation for people: "generation 3 (apply
// /etc/leash/policy.yaml)", escaped for the terminal.
func describe(m state.Meta) string { return termtext.Escape(engine.Describe(m)) }

// leashCommand is the command line that repeats this invocation's
// --netns and --state-dir, for messages that tell people what to run.
func leashCommand(g *globals, sub string) string {
	parts := []string{"leash"}
	if g.netns != "" {
		parts = append(parts, "--netns", g.netns)
	}
	if filepath.Clean(g.stateDir) != state.DirFor(state.DefaultDir, g.ns) {
		parts = append(parts, "--state-dir", g.stateDir)
	}
	return strings.Join(append(parts, sub), " ")
}
