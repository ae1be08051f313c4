// Package sockowner answers "whose socket is this?": the kernel's view of a
// socket (internal/sockdiag: protocol, addresses, state, owning uid, inode)
// joined with the processes holding it (internal/procinfo: pid, command,
// executable, systemd unit). It is the one lookup behind `leash conns` and
// the denial log's process column.
//
// Processes are found by socket inode in /proc/PID/fd, so the join is best
// effort: a socket without a file (time-wait, orphaned after close), one
// whose process exited in between, or one held only by processes this one
// may not inspect, comes back with no processes. The uid always comes from
// the kernel and is the socket's owner, whoever holds it now.
package sockowner

import (
	"github.com/leash-dev/leash/internal/procinfo"
	"github.com/leash-dev/leash/internal/sockdiag"
)

// Owned is a socket and the processes holding it, by ascending pid (empty
// when none was found).
type Owned struct {
	sockdiag.Socket
	Processes []procinfo.Process
}
