package main

import (
	"errors"
	"fmt"
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

// loopback is 127.0.0.1:port.
func loopback(port int) *unix.SockaddrInet4 {
	return &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}
}

// measure runs the UDP then the TCP test in ns as uid, each for d.
func measure(ns *netns.NS, uid uint32, d time.Duration) (sample, error) {
	var s sample
	if err := ns.Do(func() error { return udpRate(uid, d, &s) }); err != nil {
		return s, fmt.Errorf("udp in %s: %w", ns.Name, err)
	}
	if err := ns.Do(func() error { return tcpRate(uid, d, &s) }); err != nil {
		return s, fmt.Errorf("tcp in %s: %w", ns.Name, err)
	}
	return s, nil
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

// serverSocket is a socket of type typ bound to 127.0.0.1:port, owned by
// root, whose blocking receive (or accept) times out after 20 ms.
func serverSocket(typ, port int) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	tv := unix.NsecToTimeval((20 * time.Millisecond).Nanoseconds())
	opts := []error{
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1),
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv),
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20),
		unix.Bind(fd, loopback(port)),
	}
	if typ == unix.SOCK_STREAM {
		opts = append(opts, unix.Listen(fd, 4096))
	}
	if err := errors.Join(opts...); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("server socket on port %d: %w", port, err)
	}
	return fd, nil
}

// udpRate sends 16-byte datagrams from a socket owned by uid to a receiver
// on 127.0.0.1 for d, one send() per packet, and records what was sent and
// received. Runs on the namespace's locked thread.
func udpRate(uid uint32, d time.Duration, s *sample) error {
	rx, err := serverSocket(unix.SOCK_DGRAM, benchpolicy.UDPPort)
	if err != nil {
		return err
	}
	defer unix.Close(rx)
	restore, err := asUser(uid)
	if err != nil {
		return err
	}
	tx, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if rerr := restore(); rerr != nil {
		return rerr
	}
	if err != nil {
		return fmt.Errorf("socket as uid %d: %w", uid, err)
	}
	defer unix.Close(tx)
	if err := unix.Connect(tx, loopback(benchpolicy.UDPPort)); err != nil {
		return fmt.Errorf("connect udp: %w", err)
	}
	var stop atomic.Bool
	got := make(chan uint64, 1)
	go sink(rx, false, &stop, got)
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
				return fmt.Errorf("send as uid %d: %w", uid, err)
			}
		}
	}
	elapsed := time.Since(start)
	time.Sleep(30 * time.Millisecond) // let the receiver drain its queue
	stop.Store(true)
	s.UDPRecv = <-got
	s.UDPPPS = float64(s.UDPRecv) / elapsed.Seconds()
	return nil
}

// tcpRate opens connections from sockets owned by uid to a listener on
// 127.0.0.1 for d: socket, connect (blocking, handshake completes on
// loopback), close with linger 0 (RST, so no TIME_WAIT exhausts the
// ephemeral ports). Runs on the namespace's locked thread.
func tcpRate(uid uint32, d time.Duration, s *sample) error {
	ln, err := serverSocket(unix.SOCK_STREAM, benchpolicy.TCPPort)
	if err != nil {
		return err
	}
	defer unix.Close(ln)
	var stop atomic.Bool
	got := make(chan uint64, 1)
	go sink(ln, true, &stop, got)
	defer func() { stop.Store(true); <-got }()

	restore, err := asUser(uid)
	if err != nil {
		return err
	}
	start := time.Now()
	n, refused, cerr := connectLoop(start.Add(d))
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
func connectLoop(deadline time.Time) (n, refused uint64, err error) {
	sa := loopback(benchpolicy.TCPPort)
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
				return n, refused, fmt.Errorf("connect to 127.0.0.1:%d: %w", sa.Port, err)
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
