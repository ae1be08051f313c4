package denylog

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/leash-dev/leash/internal/procinfo"
	"github.com/leash-dev/leash/internal/sockdiag"
	"github.com/leash-dev/leash/internal/sockowner"
)

// errNoLookup is returned for protocols whose sockets sock_diag cannot find
// by tuple (ICMP, SCTP, ...).
var errNoLookup = errors.New("no socket lookup for this protocol")

// SocketOwners finds a logged packet's process with the shared socket
// lookup (sock_diag by exact tuple, then the holders of its inode in /proc).
// TCP, UDP and UDP-Lite only.
type SocketOwners struct {
	Lookup *sockowner.Lookup
}

// OpenSocketOwners looks up sockets of the named namespace ("" = current).
func OpenSocketOwners(netns string) (*SocketOwners, error) {
	l, err := sockowner.OpenNetNS(netns)
	if err != nil {
		return nil, fmt.Errorf("denylog: socket lookup: %w", err)
	}
	return &SocketOwners{Lookup: l}, nil
}

// FindProcess implements ProcessFinder: the lowest pid holding the socket.
func (s *SocketOwners) FindProcess(ctx context.Context, proto uint8, src, dst netip.AddrPort) (Process, error) {
	switch sockdiag.Proto(proto) {
	case sockdiag.TCP, sockdiag.UDP, sockdiag.UDPLite:
	default:
		return Process{}, errNoLookup
	}
	o, err := s.Lookup.Find(ctx, sockdiag.Proto(proto), src, dst)
	if err != nil {
		return Process{}, err
	}
	if len(o.Processes) == 0 {
		return Process{}, fmt.Errorf("socket inode %d: no process holds it (any more)", o.Inode)
	}
	return processOf(o.Processes[0]), nil
}

// Close releases the lookup.
func (s *SocketOwners) Close() error { return s.Lookup.Close() }

// processOf picks what the log shows of a process. Unit is the systemd
// unit ("user@1000.service/firefox.service" inside a user manager), else
// the cgroup path unless it is the root.
func processOf(p procinfo.Process) Process {
	unit := p.Unit
	switch {
	case unit != "" && p.UserUnit != "":
		unit += "/" + p.UserUnit
	case unit == "" && p.Cgroup != "/":
		unit = p.Cgroup
	}
	return Process{PID: p.PID, Comm: p.Comm, Exe: p.Exe, Unit: unit}
}
