package denylog

import (
	"context"
	"net/netip"
	"time"

	"github.com/leash-dev/leash/internal/identity"
)

// DefaultProcessBudget bounds one process lookup. The socket of a dropped
// datagram may be gone by then anyway; a lookup must never hold up the log.
const DefaultProcessBudget = 100 * time.Millisecond

// Process is the process found holding a logged packet's socket.
type Process struct {
	PID  int
	Comm string
	Exe  string
	Unit string // systemd unit, or the cgroup path when there is no unit
}

// ProcessFinder finds the process holding the local socket a logged packet
// came from. It is best effort: the socket may be closed by the time the
// message is read (a one-shot UDP send), or the process may be another
// namespace's. It must respect ctx's deadline.
type ProcessFinder interface {
	FindProcess(ctx context.Context, proto uint8, src, dst netip.AddrPort) (Process, error)
}

// UserNamer names uids (an *identity.Directory adapted, see UserNames).
type UserNamer func(uid uint32) (string, bool)

// Enricher adds to a decoded event what the host knows: the user's name,
// the process, the policy origin of the rule, the destination's hostnames.
type Enricher struct {
	Users     UserNamer     // nil: no names
	Processes ProcessFinder // nil: no process lookup
	Budget    time.Duration // per process lookup; 0 means DefaultProcessBudget
	Rules     func() *RuleBook
}

// Enrich fills e's user, process and rule fields. skipProcess skips the
// process lookup (the pipeline sheds it under load) and says so in Note.
func (en *Enricher) Enrich(ctx context.Context, e *Event, proto uint8, skipProcess bool) {
	if e.UID != nil && en.Users != nil {
		if name, ok := en.Users(*e.UID); ok {
			e.User = name
		}
	}
	if en.Rules != nil {
		book := en.Rules()
		if o, ok := book.Origin(e.RuleID); ok {
			e.Policy, e.File, e.Line, e.Text = o.Policy, o.File, o.Line, o.Text
		}
		e.Hostnames = book.Hostnames(e.Dst.Addr())
	}
	switch {
	case en.Processes == nil:
	case skipProcess:
		addNote(e, "process lookup skipped under load")
	default:
		en.findProcess(ctx, e, proto)
	}
}

func (en *Enricher) findProcess(ctx context.Context, e *Event, proto uint8) {
	budget := en.Budget
	if budget <= 0 {
		budget = DefaultProcessBudget
	}
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	p, err := en.Processes.FindProcess(ctx, proto, e.Src, e.Dst)
	if err != nil {
		return // best effort: the socket may be gone; the event stands without it
	}
	e.PID, e.Comm, e.Exe, e.Unit = p.PID, p.Comm, p.Exe, p.Unit
}

func addNote(e *Event, note string) {
	if e.Note == "" {
		e.Note = note
		return
	}
	e.Note += "; " + note
}

// UserNames names uids from a user directory (*identity.Directory).
func UserNames(d interface {
	UserByUID(uint32) (identity.User, bool)
}) UserNamer {
	return func(uid uint32) (string, bool) {
		u, ok := d.UserByUID(uid)
		return u.Name, ok
	}
}
