package nft

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// maxReadAttempts bounds the retries of a snapshot read when the ruleset
// keeps changing while it is being read; between attempts the read backs
// off from 1 ms, doubling, to at most maxReadBackoff (about 0.8 s in all).
const (
	maxReadAttempts = 20
	maxReadBackoff  = 50 * time.Millisecond
)

// readScope is what a snapshot reads: `table inet leash` alone, or the whole
// ruleset (every table's base chains).
type readScope int

const (
	leashTable readScope = iota
	wholeRuleset
)

// snapshot runs read, a sequence of dumps, until it completes within one
// ruleset generation of the kernel, and returns its result. Another writer
// (a daemon's hostname refresh, another tool) may commit between two dumps
// or during one: the dumps then disagree, an object listed by one is gone
// for the next (ENOENT), or the kernel flags a dump as interrupted. Whatever
// read returned then, success or error, is discarded and read runs again, at
// most maxReadAttempts times with a growing pause between; an error of a
// read during which the generation did not change is read's answer and
// comes back as it is.
//
// The generation counts the commits to every table, so on a host whose
// other tools commit often (kube-proxy, Docker, firewalld) a long read of
// table inet leash would start again for changes that cannot touch it.
// Once a leashTable read saw the generation move, the next attempts listen
// to the nf_tables notifications (changeLog): a read during which every
// commit changed only other tables is kept. That is sound because each of
// its dumps but the chains' is narrowed to the table by the kernel, which
// counts where to resume within it; the chain dump, which counts the chains
// of every table, still starts again when interrupted.
// nft equivalent: what `nft list` does with NFT_MSG_GETGEN around its dumps.
func snapshot[T any](c *Conn, nc *nftables.Conn, scope readScope, read func() (T, error)) (T, error) {
	var zero T
	var log *changeLog
	defer func() {
		if log != nil {
			log.close()
		}
	}()
	for i := range maxReadAttempts {
		if i > 0 {
			time.Sleep(min(time.Millisecond<<(i-1), maxReadBackoff))
		}
		before, err := nc.GetGen()
		if err != nil {
			return zero, fmt.Errorf("generation: %w", err)
		}
		v, rerr := read()
		after, err := nc.GetGen()
		if err != nil {
			return zero, fmt.Errorf("generation: %w", err)
		}
		interrupted := errors.Is(rerr, errDumpInterrupted)
		if before.ID == after.ID && !interrupted {
			return v, rerr
		}
		if log != nil && !interrupted && log.othersOnly(before.ID, after.ID) {
			return v, rerr
		}
		if log != nil && log.lostAny() { // a fresh one for the next attempt
			log.close()
			log = nil
		}
		if scope == leashTable && log == nil {
			log, _ = c.openChangeLog() // without one, every commit counts
		}
	}
	return zero, fmt.Errorf("the ruleset changed during %d consecutive reads; try again", maxReadAttempts)
}

// changeLog is a subscription to the nf_tables notifications of c's
// namespace, read as they come by a goroutine of its own (so that a busy
// writer cannot overflow the socket while a long read runs), which a
// snapshot asks which generations changed table inet leash.
type changeLog struct {
	nl   *netlink.Conn
	done chan struct{} // closed when the reader ends
	news chan struct{} // a generation ended

	mu      sync.Mutex
	last    uint32   // the last generation whose end was read
	seen    bool     // last is set
	touched []uint32 // the generations that changed leash's table
	lost    bool     // notifications were lost: nothing can be told
}

// genWait bounds how long othersOnly waits for the notifications of a
// commit the generation already counts (the kernel bumps it before it
// sends them).
const genWait = 100 * time.Millisecond

// logBuffer is the change log socket's receive buffer (SO_RCVBUFFORCE,
// past net.core.rmem_max: leash runs with CAP_NET_ADMIN).
const logBuffer = 8 << 20

func (c *Conn) openChangeLog() (*changeLog, error) {
	nl, err := c.dial()
	if err != nil {
		return nil, err
	}
	if err := nl.JoinGroup(unix.NFNLGRP_NFTABLES); err != nil {
		nl.Close()
		return nil, fmt.Errorf("nft: join the nf_tables event group: %w", err)
	}
	if rc, err := nl.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) { _ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, logBuffer) })
	}
	l := &changeLog{nl: nl, done: make(chan struct{}), news: make(chan struct{}, 1)}
	go l.run()
	return l, nil
}

// run records, until the socket closes, which generations changed leash's
// table.
func (l *changeLog) run() {
	defer close(l.done)
	pending := false // the transaction being read changed leash's table
	for {
		msgs, err := l.nl.Receive()
		if err != nil {
			l.mu.Lock()
			l.lost = true // events dropped, or no more to come
			l.mu.Unlock()
			if errors.Is(err, unix.ENOBUFS) {
				continue
			}
			return // closed, or failed: the snapshot opens another
		}
		for _, m := range msgs {
			leash, gen := classify(m)
			if !gen {
				pending = pending || leash != ""
				continue
			}
			l.mu.Lock()
			l.last, l.seen = genChange(m.Data[4:]).Gen, true
			if pending {
				l.touched = append(l.touched, l.last)
			}
			l.mu.Unlock()
			pending = false
			select {
			case l.news <- struct{}{}:
			default:
			}
		}
	}
}

// othersOnly reports whether every commit of the generations after before,
// up to and including after, left table inet leash alone. It waits (at
// most genWait) until the end of generation after has been read; it is
// false, and the snapshot reads again, if that did not come, or if
// notifications were lost (the snapshot then opens a fresh log).
func (l *changeLog) othersOnly(before, after uint32) bool {
	timeout := time.NewTimer(genWait)
	defer timeout.Stop()
	for {
		l.mu.Lock()
		reached, lost := l.seen && int32(l.last-after) >= 0, l.lost
		clean := true
		for _, g := range l.touched {
			if int32(g-before) > 0 && int32(after-g) >= 0 {
				clean = false
			}
		}
		l.mu.Unlock()
		switch {
		case lost:
			return false
		case reached:
			return clean
		}
		select {
		case <-l.news:
		case <-timeout.C:
			return false
		}
	}
}

// lostAny reports whether notifications were lost since the log opened.
func (l *changeLog) lostAny() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lost
}

// close ends the subscription and waits for its reader.
func (l *changeLog) close() {
	l.nl.Close()
	<-l.done
}
