package main

import (
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/leash-dev/leash/bench/benchpolicy"
	"github.com/leash-dev/leash/internal/netns"
)

// sample is one measurement of both kinds of traffic in one namespace.
type sample struct {
	UDPSent uint64  `json:"udp_sent"`
	UDPRecv uint64  `json:"udp_recv"`
	UDPPPS  float64 `json:"udp_pps"` // received packets per second
	TCPConn uint64  `json:"tcp_connects"`
	TCPCPS  float64 `json:"tcp_cps"` // completed connect+close per second
	// TCPRefused counts connects answered with a reset (ECONNREFUSED); they
	// are retried and not counted in TCPConn.
	TCPRefused uint64 `json:"tcp_refused,omitempty"`
}

// route is where one namespace's measured traffic goes: the user's sockets
// live in client (where the ruleset under test is loaded), the receiver and
// the listener in server, at dst.
type route struct {
	client, server *netns.NS
	dst            [4]byte
}

// addr is the receiver's address at port.
func (r route) addr(port int) *unix.SockaddrInet4 {
	return &unix.SockaddrInet4{Port: port, Addr: r.dst}
}

// measure runs the UDP then the TCP test over r as uid, each for d.
func measure(r route, uid uint32, d time.Duration) (sample, error) {
	var s sample
	if err := udpRate(r, uid, d, &s); err != nil {
		return s, fmt.Errorf("udp in %s: %w", r.client.Name, err)
	}
	if err := tcpRate(r, uid, d, &s); err != nil {
		return s, fmt.Errorf("tcp in %s: %w", r.client.Name, err)
	}
	return s, nil
}

// inNS runs fn on a thread in ns and returns the descriptor it made.
func inNS(ns *netns.NS, fn func() (int, error)) (int, error) {
	fd := -1
	err := ns.Do(func() error {
		var err error
		fd, err = fn()
		return err
	})
	return fd, err
}

// asUser sets the calling thread's fsuid and fsgid to uid, so that sockets
// it creates are owned by uid (the kernel's meta skuid/skgid are the
// socket's fsuid/fsgid at creation). The returned function restores 0 and
// must be called before the thread is released. Call on a locked thread.
func asUser(uid uint32) (restore func() error, err error) {
	if _, err := unix.SetfsgidRetGid(int(uid)); err != nil {
		return nil, fmt.Errorf("setfsgid(%d): %w", uid, err)
	}
	if _, err := unix.SetfsuidRetUid(int(uid)); err != nil {
		return nil, fmt.Errorf("setfsuid(%d): %w", uid, err)
	}
	return func() error {
		unix.SetfsuidRetUid(0)
		unix.SetfsgidRetGid(0)
		// setfsuid returns the previous value: 0 proves it was restored.
		if prev, _ := unix.SetfsuidRetUid(0); prev != 0 {
			return errors.New("could not restore fsuid 0")
		}
		if prev, _ := unix.SetfsgidRetGid(0); prev != 0 {
			return errors.New("could not restore fsgid 0")
		}
		return nil
	}, nil
}

// sink receives on fd until stop is set and no packet (or connection) came
// for its receive timeout, and returns how many it got. accept chooses
// accept+close (TCP listener) over recv (UDP).
func sink(fd int, accept bool, stop *atomic.Bool, out chan<- uint64) {
	var n uint64
	buf := make([]byte, 64)
	for {
		var err error
		if accept {
			var c int
			if c, _, err = unix.Accept4(fd, unix.SOCK_CLOEXEC); err == nil {
				unix.Close(c)
			}
		} else {
			_, _, err = unix.Recvfrom(fd, buf, 0)
		}
		switch {
		case err == nil:
			n++
		case stop.Load():
			out <- n
			return
		}
	}
}

// serverSocket is a socket of type typ bound to sa, owned by root, whose
// blocking receive (or accept) times out after 20 ms.
func serverSocket(typ int, sa *unix.SockaddrInet4) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	tv := unix.NsecToTimeval((20 * time.Millisecond).Nanoseconds())
	opts := []error{
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1),
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv),
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20),
		unix.Bind(fd, sa),
	}
	if typ == unix.SOCK_STREAM {
		opts = append(opts, unix.Listen(fd, 4096))
	}
	if err := errors.Join(opts...); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("server socket on port %d: %w", sa.Port, err)
	}
	return fd, nil
}

// udpRate sends 16-byte datagrams from a socket owned by uid to r's
// receiver for d, one send() per packet, and records what was sent and
// received.
func udpRate(r route, uid uint32, d time.Duration, s *sample) error {
	rx, err := inNS(r.server, func() (int, error) { return serverSocket(unix.SOCK_DGRAM, r.addr(benchpolicy.UDPPort)) })
	if err != nil {
		return err
	}
	defer unix.Close(rx)
	var stop atomic.Bool
	got := make(chan uint64, 1)
	go sink(rx, false, &stop, got)
	var elapsed time.Duration
	err = r.client.Do(func() (err error) {
		elapsed, err = udpSend(r, uid, d, s)
		return err
	})
	time.Sleep(30 * time.Millisecond) // let the receiver drain its queue
	stop.Store(true)
	s.UDPRecv = <-got
	if err != nil {
		return err
	}
	s.UDPPPS = float64(s.UDPRecv) / elapsed.Seconds()
	return nil
}

// udpSend is the sending half of udpRate: it counts what it sent in s and
// returns how long it sent. Runs on a locked thread in r's client namespace.
func udpSend(r route, uid uint32, d time.Duration, s *sample) (time.Duration, error) {
	restore, err := asUser(uid)
	if err != nil {
		return 0, err
	}
	tx, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if rerr := restore(); rerr != nil {
		return 0, rerr
	}
	if err != nil {
		return 0, fmt.Errorf("socket as uid %d: %w", uid, err)
	}
	defer unix.Close(tx)
	if err := unix.Connect(tx, r.addr(benchpolicy.UDPPort)); err != nil {
		return 0, fmt.Errorf("connect udp: %w", err)
	}
	msg := make([]byte, 16)
	start := time.Now()
	deadline := start.Add(d)
	for time.Now().Before(deadline) {
		for range 64 {
			_, err := unix.Write(tx, msg)
			switch {
			case err == nil:
				s.UDPSent++
			case errors.Is(err, unix.ENOBUFS), errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR):
			default:
				return 0, fmt.Errorf("send as uid %d: %w", uid, err)
			}
		}
	}
	return time.Since(start), nil
}

// tcpRate opens connections from sockets owned by uid to r's listener for
// d: socket, connect (blocking: the handshake completes), close with linger
// 0 (RST, so no TIME_WAIT exhausts the ephemeral ports).
func tcpRate(r route, uid uint32, d time.Duration, s *sample) error {
	ln, err := inNS(r.server, func() (int, error) { return serverSocket(unix.SOCK_STREAM, r.addr(benchpolicy.TCPPort)) })
	if err != nil {
		return err
	}
	defer unix.Close(ln)
	var stop atomic.Bool
	got := make(chan uint64, 1)
	go sink(ln, true, &stop, got)
	defer func() { stop.Store(true); <-got }()
	return r.client.Do(func() error { return tcpConnects(r, uid, d, s) })
}

// tcpConnects is the connecting half of tcpRate. Runs on a locked thread in
// r's client namespace.
func tcpConnects(r route, uid uint32, d time.Duration, s *sample) error {
	restore, err := asUser(uid)
	if err != nil {
		return err
	}
	start := time.Now()
	n, refused, cerr := connectLoop(r.addr(benchpolicy.TCPPort), start.Add(d))
	elapsed := time.Since(start)
	if err := restore(); err != nil {
		return err
	}
	if cerr != nil {
		return fmt.Errorf("as uid %d: %w", uid, cerr)
	}
	s.TCPConn, s.TCPRefused = n, refused
	s.TCPCPS = float64(n) / elapsed.Seconds()
	return nil
}

// connectLoop connects to the listener until deadline and returns how many
// connections completed and how many were refused. A connect that takes
// over a second fails.
func connectLoop(sa *unix.SockaddrInet4, deadline time.Time) (n, refused uint64, err error) {
	tv := unix.NsecToTimeval(time.Second.Nanoseconds())
	linger := &unix.Linger{Onoff: 1, Linger: 0}
	for time.Now().Before(deadline) {
		for range 16 {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return n, refused, fmt.Errorf("tcp socket: %w", err)
			}
			err = errors.Join(
				unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, linger),
				unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv),
				connect(fd, sa))
			unix.Close(fd)
			switch {
			case err == nil:
				n++
			case errors.Is(err, unix.ECONNREFUSED):
				refused++
			default:
				return n, refused, fmt.Errorf("connect to %v:%d: %w", netip.AddrFrom4(sa.Addr), sa.Port, err)
			}
		}
	}
	return n, refused, nil
}

// connect is a blocking connect that survives the Go runtime's preemption
// signals: after EINTR the handshake goes on in the kernel, so wait up to
// a second for the socket to become writable and read its error.
func connect(fd int, sa unix.Sockaddr) error {
	err := unix.Connect(fd, sa)
	if !errors.Is(err, unix.EINTR) {
		return err
	}
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		n, err := unix.Poll(pfd, 100)
		if errors.Is(err, unix.EINTR) || (err == nil && n == 0) {
			continue
		}
		if err != nil {
			return fmt.Errorf("poll: %w", err)
		}
		soerr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if err != nil {
			return fmt.Errorf("SO_ERROR: %w", err)
		}
		if soerr != 0 {
			return unix.Errno(soerr)
		}
		return nil
	}
	return errors.New("connect: no answer within a second")
}
