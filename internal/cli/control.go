package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/engine"
	"github.com/leash-dev/leash/internal/localapi"
	"github.com/leash-dev/leash/internal/termtext"
)

// controlFor is the control plane of one command that changes the kernel
// (or reports on it): the running daemon's, over its LocalAPI socket in
// the state directory, when a daemon answers there (daemon mode: it owns
// the table, so only it may change it); else the engine itself (direct
// mode). Either way the same engine methods run, with the same results and
// errors. cmd and args name this leash in the lock file.
func controlFor(cmd *cobra.Command, d Deps, g *globals, args []string) (engine.Control, error) {
	e := engineFor(cmd, d, g, args)
	c, err := localapi.Dial(localapi.SocketPath(g.stateDir))
	switch {
	case errors.Is(err, localapi.ErrNoDaemon):
		return e, nil
	case err != nil:
		return nil, err
	}
	c.Holder = e.Holder
	c.Notify = e.Notify
	return c, nil
}

// daemonLine is status's line about the daemon.
func daemonLine(dm *engine.Daemon) string {
	if dm == nil {
		return "daemon: not running (direct mode: commands change the table themselves)"
	}
	owns := "owns table inet leash"
	if !dm.OwnsTable {
		owns = "does NOT own table inet leash (--no-own, or another process holds it): other tools can change it"
	}
	return fmt.Sprintf("daemon: running (pid %d, since %s), %s; commands go through %s", dm.PID, stamp(dm.Since), owns, termtext.Escape(dm.Socket))
}
