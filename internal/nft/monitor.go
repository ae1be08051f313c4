package nft

import (
	"fmt"
	"strings"
)

// TableChange is one kernel transaction (one netfilter generation) that
// touched `table inet leash`, as the netfilter event monitor reports it, or
// the news that events were lost.
type TableChange struct {
	// Gen is the ruleset generation the transaction made.
	Gen uint32
	// PID and Comm name the thread that sent the transaction (as the
	// kernel records it, NFTA_GEN_PROC_PID and NFTA_GEN_PROC_NAME: the
	// thread id, not the process id).
	PID  uint32
	Comm string
	// Self: the sender is a thread of this process (leash's own change).
	Self bool
	// What lists the changes, in order, without repeats: "table deleted",
	// "rule added", "element deleted"...
	What []string
	// Lost: the kernel dropped events (the monitor's socket overflowed,
	// ENOBUFS) or the monitor restarted; the table may have changed in any
	// way. Gen, PID, Comm and What are then empty.
	Lost bool
}

func (c TableChange) String() string {
	if c.Lost {
		return "netfilter events were lost: the table may have changed"
	}
	return fmt.Sprintf("generation %d by %s (thread %d): %s", c.Gen, c.Comm, c.PID, strings.Join(c.What, ", "))
}
