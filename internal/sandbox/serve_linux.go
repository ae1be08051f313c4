package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// maxEcho bounds what the server reads and sends back.
const maxEcho = 512

// serveMain is the serving half of an inbound exchange, run as the case's
// user in the client namespace: bind the address, say so on stdout, and
// echo what the first peer sends. Nothing arriving before the timeout is
// not an error (the peer's side reports the outcome); exit 1 means the
// socket could not be made, 2 bad arguments.
func serveMain(args []string, stdout io.Writer) int {
	p, err := parseProbeArgs(args)
	if err == nil && p.Proto != TCP && p.Proto != UDP {
		err = fmt.Errorf("serve needs tcp or udp, not %s", p.Proto)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "sandbox-probe serve: %v\n", err)
		return 2
	}
	stype := unix.SOCK_STREAM
	if p.Proto == UDP {
		stype = unix.SOCK_DGRAM
	}
	fd, err := boundSocket(p, stype)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sandbox-probe serve: %s %v: %v\n", p.Proto, p.Addr, err)
		return 1
	}
	defer unix.Close(fd)
	uid, gid, groups := ownCredentials()
	if err := json.NewEncoder(stdout).Encode(listening{Listening: true, UID: uid, GID: gid, Groups: groups}); err != nil {
		return 1
	}
	deadline := time.Now().Add(p.Timeout)
	if p.Proto == UDP {
		echoDatagram(fd, deadline)
	} else {
		echoStream(fd, deadline)
	}
	return 0
}

// boundSocket is a socket bound to p's address and port (listening, for
// TCP). SO_REUSEADDR lets a case reuse the port of the one before it.
func boundSocket(p Probe, stype int) (int, error) {
	fd, err := unix.Socket(family(p.Addr), stype|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	if err == nil {
		err = unix.Bind(fd, sockaddr(p.Addr, p.Port))
	}
	if err == nil && stype == unix.SOCK_STREAM {
		err = unix.Listen(fd, 1)
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// echoStream accepts one connection, sends back what it reads first, and
// waits for the peer to hang up, so the peer (not this socket) closes first.
func echoStream(l int, deadline time.Time) {
	if !readable(l, deadline) {
		return
	}
	c, _, err := unix.Accept4(l, unix.SOCK_CLOEXEC)
	if err != nil {
		return
	}
	defer unix.Close(c)
	buf := make([]byte, maxEcho)
	if !readable(c, deadline) {
		return
	}
	n, err := unix.Read(c, buf)
	if err != nil || n <= 0 {
		return
	}
	if _, err := unix.Write(c, buf[:n]); err != nil {
		return
	}
	for readable(c, deadline) {
		if n, err := unix.Read(c, buf); err != nil || n <= 0 {
			return
		}
	}
}

// echoDatagram sends the first datagram back to its sender.
func echoDatagram(fd int, deadline time.Time) {
	if !readable(fd, deadline) {
		return
	}
	buf := make([]byte, maxEcho)
	n, from, err := unix.Recvfrom(fd, buf, 0)
	if err != nil || from == nil {
		return
	}
	unix.Sendto(fd, buf[:n], 0, from)
}

// readable waits until fd has something to read (or an error or hang-up to
// report) and says whether it does before deadline.
func readable(fd int, deadline time.Time) bool {
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(left.Milliseconds())+1)
		switch {
		case err == unix.EINTR || (err == nil && n == 0):
			continue
		case err != nil:
			return false
		}
		return true
	}
}
