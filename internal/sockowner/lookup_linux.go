package sockowner

import (
	"context"
	"errors"
	"io/fs"
	"net/netip"

	"github.com/leash-dev/leash/internal/netns"
	"github.com/leash-dev/leash/internal/procinfo"
	"github.com/leash-dev/leash/internal/sockdiag"
)

// Lookup finds sockets of one network namespace and their processes.
type Lookup struct {
	diag *sockdiag.Conn
	proc *procinfo.Reader
	ns   *netns.NS // held open while the Lookup is, nil for the current one
}

// New joins sockets from diag with processes from proc. Close closes diag.
func New(diag *sockdiag.Conn, proc *procinfo.Reader) *Lookup {
	return &Lookup{diag: diag, proc: proc}
}

// OpenNetNS looks up sockets of the namespace /run/netns/NAME (the current
// one when name is "") and their processes in this host's /proc. Close
// releases the namespace handle; it never removes the namespace.
func OpenNetNS(name string) (*Lookup, error) {
	if name == "" {
		diag, err := sockdiag.Dial()
		if err != nil {
			return nil, err
		}
		return New(diag, procinfo.Host()), nil
	}
	ns, err := netns.Open(name)
	if err != nil {
		return nil, err
	}
	diag, err := sockdiag.Dial(sockdiag.WithNetNS(ns.Fd()))
	if err != nil {
		ns.Close()
		return nil, err
	}
	l := New(diag, procinfo.Host())
	l.ns = ns
	return l, nil
}

// Close closes the sock_diag socket and releases the namespace handle.
func (l *Lookup) Close() error {
	err := l.diag.Close()
	if l.ns != nil {
		err = errors.Join(err, l.ns.Close())
	}
	return err
}

// List returns the sockets f selects with their processes, from one scan of
// /proc.
func (l *Lookup) List(ctx context.Context, f sockdiag.Filter) ([]Owned, error) {
	socks, err := l.diag.List(ctx, f)
	if err != nil {
		return nil, err
	}
	ix, err := l.proc.SocketIndex(ctx)
	if err != nil {
		return nil, err
	}
	procs := processCache{reader: l.proc, seen: map[int]*procinfo.Process{}}
	out := make([]Owned, len(socks))
	for i, s := range socks {
		out[i] = Owned{Socket: s}
		if s.Inode != 0 {
			out[i].Processes = procs.get(ix.Holders(s.Inode))
		}
	}
	return out, nil
}

// Find returns the socket of protocol p with local end src and remote end
// dst (the tuple of a packet it sent; see sockdiag.Conn.Find) and the
// processes holding it. The error wraps sockdiag.ErrNotFound when the socket
// is gone. Each call scans /proc once.
func (l *Lookup) Find(ctx context.Context, p sockdiag.Proto, src, dst netip.AddrPort) (Owned, error) {
	return l.find(ctx, p, src, dst, l.proc.Holders)
}

// FindFirst is Find for when one process is enough (a log line): it stops
// at the first holder, scanning the newest pids first (procinfo
// FirstHolder), so Processes has at most one entry.
func (l *Lookup) FindFirst(ctx context.Context, p sockdiag.Proto, src, dst netip.AddrPort) (Owned, error) {
	return l.find(ctx, p, src, dst, func(ctx context.Context, inode uint64) ([]int, error) {
		pid, ok, err := l.proc.FirstHolder(ctx, inode)
		if err != nil || !ok {
			return nil, err
		}
		return []int{pid}, nil
	})
}

// find is Find with holders saying which pids hold the socket's inode.
func (l *Lookup) find(ctx context.Context, p sockdiag.Proto, src, dst netip.AddrPort, holders func(context.Context, uint64) ([]int, error)) (Owned, error) {
	s, err := l.diag.Find(ctx, p, src, dst)
	if err != nil {
		return Owned{}, err
	}
	o := Owned{Socket: s}
	if s.Inode == 0 {
		return o, nil
	}
	pids, err := holders(ctx, s.Inode)
	if err != nil {
		return Owned{}, err
	}
	procs := processCache{reader: l.proc, seen: map[int]*procinfo.Process{}}
	o.Processes = procs.get(pids)
	return o, nil
}

// processCache reads each process once; processes that exited since the
// scan are left out.
type processCache struct {
	reader *procinfo.Reader
	seen   map[int]*procinfo.Process // nil: gone or unreadable
}

func (c processCache) get(pids []int) []procinfo.Process {
	var out []procinfo.Process
	for _, pid := range pids {
		p, ok := c.seen[pid]
		if !ok {
			if got, err := c.reader.Process(pid); err == nil {
				p = &got
			} else if !errors.Is(err, fs.ErrNotExist) {
				p = &procinfo.Process{PID: pid} // there, but unreadable
			}
			c.seen[pid] = p
		}
		if p != nil {
			out = append(out, *p)
		}
	}
	return out
}

// ListAll lists every TCP, UDP and UDP-Lite socket of the namespace
// /run/netns/NAME (the current one when name is "") with its processes.
func ListAll(ctx context.Context, name string) ([]Owned, error) {
	l, err := OpenNetNS(name)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	return l.List(ctx, sockdiag.Filter{Protos: []sockdiag.Proto{sockdiag.TCP, sockdiag.UDP, sockdiag.UDPLite}})
}
