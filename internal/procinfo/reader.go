package procinfo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Default limits of a Reader.
const (
	// DefaultMaxProcesses is the largest pid_max Linux allows (2^22).
	DefaultMaxProcesses = 1 << 22
	// DefaultMaxFDs is Linux's default nr_open, the most fds one process
	// may have.
	DefaultMaxFDs = 1 << 20
)

// Reader reads processes from a procfs.
type Reader struct {
	// FS is rooted at the procfs: "PID/status", "PID/fd/N", ... It must
	// implement fs.ReadLinkFS (os.DirFS and fstest.MapFS do).
	FS fs.FS
	// MaxProcesses and MaxFDs bound a scan: at most MaxProcesses processes
	// and MaxFDs descriptors per process are looked at (0: the defaults).
	MaxProcesses, MaxFDs int
}

// Process is one process as the procfs shows it. Fields the reader may not
// see (another user's exe without privileges, a kernel thread's command
// line) are empty.
type Process struct {
	PID int
	// UID and GID are the effective ids, FSUID and FSGID the ids a socket
	// created now would get (nftables' meta skuid / skgid).
	UID, GID     uint32
	FSUID, FSGID uint32
	Comm         string   // /proc/PID/comm, at most 15 bytes
	Exe          string   // target of /proc/PID/exe
	Cmdline      []string // /proc/PID/cmdline
	// Cgroup is the cgroup path (see ParseCgroup), Unit and UserUnit the
	// systemd units it names (see UnitOf).
	Cgroup, Unit, UserUnit string
}

// Process reads process pid. The error wraps fs.ErrNotExist when the process
// does not exist (any more).
func (r *Reader) Process(pid int) (Process, error) {
	dir := strconv.Itoa(pid)
	status, err := fs.ReadFile(r.FS, dir+"/status")
	if err != nil {
		return Process{}, fmt.Errorf("procinfo: process %d: %w", pid, err)
	}
	c, err := ParseStatus(status)
	if err != nil {
		return Process{}, fmt.Errorf("procinfo: process %d: %w", pid, err)
	}
	p := Process{PID: pid, UID: c.EUID, GID: c.EGID, FSUID: c.FSUID, FSGID: c.FSGID}
	if b, err := fs.ReadFile(r.FS, dir+"/comm"); err == nil {
		p.Comm = strings.TrimSuffix(string(b), "\n")
	}
	if exe, err := fs.ReadLink(r.FS, dir+"/exe"); err == nil {
		p.Exe = exe
	}
	if b, err := fs.ReadFile(r.FS, dir+"/cmdline"); err == nil {
		p.Cmdline = ParseCmdline(b)
	}
	if b, err := fs.ReadFile(r.FS, dir+"/cgroup"); err == nil {
		p.Cgroup = ParseCgroup(b)
		p.Unit, p.UserUnit = UnitOf(p.Cgroup)
	}
	return p, nil
}

// Index maps socket inodes to the processes holding them, as one scan found
// them.
type Index struct {
	holders map[uint64][]int
	// Skipped counts processes whose descriptors could not be read: they
	// exited during the scan, or this process lacks the privilege.
	Skipped int
	// Truncated reports that a limit of the Reader cut the scan short.
	Truncated bool
}

// Holders returns the pids holding the socket inode, ascending; nil when no
// process scanned holds it.
func (ix *Index) Holders(inode uint64) []int { return ix.holders[inode] }

// Len is the number of distinct socket inodes found.
func (ix *Index) Len() int { return len(ix.holders) }

// SocketIndex scans every process's descriptors once and indexes the sockets
// among them; use it for many lookups.
func (r *Reader) SocketIndex(ctx context.Context) (*Index, error) {
	ix := &Index{holders: map[uint64][]int{}}
	err := r.scan(ctx, ix, func(inode uint64) bool { return true })
	return ix, err
}

// Holders scans every process for descriptors of the one socket inode and
// returns the pids holding it, ascending.
func (r *Reader) Holders(ctx context.Context, inode uint64) ([]int, error) {
	ix := &Index{holders: map[uint64][]int{}}
	err := r.scan(ctx, ix, func(n uint64) bool { return n == inode })
	return ix.holders[inode], err
}

// FirstHolder returns the first process found holding the socket inode,
// scanning the newest (highest) pids first and stopping there: a socket that
// was just used is most likely a young process's. ok is false when no
// process holds it. Use it when one process is enough (a log line); Holders
// finds them all.
func (r *Reader) FirstHolder(ctx context.Context, inode uint64) (pid int, ok bool, err error) {
	pids, err := r.pids()
	if err != nil {
		return 0, false, err
	}
	slices.Reverse(pids)
	if max := limit(r.MaxProcesses, DefaultMaxProcesses); len(pids) > max {
		pids = pids[:max]
	}
	for _, pid := range pids {
		if err := ctx.Err(); err != nil {
			return 0, false, fmt.Errorf("procinfo: scan: %w", err)
		}
		inodes, _, err := r.sockets(pid)
		if err == nil && slices.Contains(inodes, inode) {
			return pid, true, nil
		}
	}
	return 0, false, nil
}

// scan adds the sockets keep accepts, of every process, to ix.
func (r *Reader) scan(ctx context.Context, ix *Index, keep func(uint64) bool) error {
	pids, err := r.pids()
	if err != nil {
		return err
	}
	if max := limit(r.MaxProcesses, DefaultMaxProcesses); len(pids) > max {
		pids, ix.Truncated = pids[:max], true
	}
	for _, pid := range pids {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("procinfo: scan: %w", err)
		}
		inodes, truncated, err := r.sockets(pid)
		if err != nil {
			ix.Skipped++
			continue
		}
		ix.Truncated = ix.Truncated || truncated
		for _, n := range inodes {
			if keep(n) && !slices.Contains(ix.holders[n], pid) {
				ix.holders[n] = append(ix.holders[n], pid)
			}
		}
	}
	return nil
}

// pids lists the numeric entries of the procfs root, ascending.
func (r *Reader) pids() ([]int, error) {
	entries, err := fs.ReadDir(r.FS, ".")
	if err != nil {
		return nil, fmt.Errorf("procinfo: list processes: %w", err)
	}
	var pids []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return pids, nil
}

// sockets returns the socket inodes among pid's descriptors. Descriptors
// closed while it reads are skipped; an unreadable fd directory (process
// gone, or not ours to inspect) is an error.
func (r *Reader) sockets(pid int) ([]uint64, bool, error) {
	dir := path.Join(strconv.Itoa(pid), "fd")
	entries, err := fs.ReadDir(r.FS, dir)
	if err != nil {
		return nil, false, err
	}
	truncated := false
	if max := limit(r.MaxFDs, DefaultMaxFDs); len(entries) > max {
		entries, truncated = entries[:max], true
	}
	var out []uint64
	for _, e := range entries {
		target, err := fs.ReadLink(r.FS, dir+"/"+e.Name())
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, false, err
		}
		if n, ok := ParseSocketLink(target); ok {
			out = append(out, n)
		}
	}
	return out, truncated, nil
}

func limit(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}
