package sandbox

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// attempt makes the connection attempt p describes and classifies it. It uses
// raw socket calls so that every errno is the kernel's own, unretried.
func attempt(p Probe) (Outcome, error) {
	switch p.Proto {
	case TCP:
		return attemptTCP(p)
	case UDP:
		return attemptDatagram(p, unix.IPPROTO_UDP, dnsProbeQuery(), isAnyReply)
	case ICMP:
		return attemptDatagram(p, unix.IPPROTO_ICMP, echoRequest(8), isEchoReply(0))
	case ICMPv6:
		return attemptDatagram(p, unix.IPPROTO_ICMPV6, echoRequest(128), isEchoReply(129))
	}
	return Outcome{}, fmt.Errorf("unknown protocol %q", p.Proto)
}

// attemptTCP connects without blocking and waits up to p.Timeout for the
// handshake to finish or fail.
func attemptTCP(p Probe) (Outcome, error) {
	fd, err := unix.Socket(family(p.Addr), unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return Outcome{}, fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(fd)
	start := time.Now()
	deadline := start.Add(p.Timeout)
	err = unix.Connect(fd, sockaddr(p.Addr, p.Port))
	if err == unix.EINPROGRESS {
		err = awaitConnect(fd, deadline)
	}
	return verdict(err, time.Since(start), "connect")
}

// awaitConnect polls fd until connect finishes or deadline passes; it returns
// the connect result (nil or the errno), or errTimeout when nothing happened.
func awaitConnect(fd int, deadline time.Time) error {
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return errTimeout
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		n, err := unix.Poll(fds, int(left.Milliseconds())+1)
		if err == unix.EINTR || (err == nil && n == 0) {
			continue
		}
		if err != nil {
			return fmt.Errorf("poll: %w", err)
		}
		soErr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if err != nil {
			return fmt.Errorf("getsockopt SO_ERROR: %w", err)
		}
		if soErr == 0 {
			return nil
		}
		return unix.Errno(soErr)
	}
}

// attemptDatagram connects a datagram socket (UDP or ping), sends payload and
// waits up to p.Timeout for a datagram accepted by isReply, or for the error
// the kernel queued on the socket (ICMP errors on a connected socket).
func attemptDatagram(p Probe, proto int, payload []byte, isReply func([]byte) bool) (Outcome, error) {
	fd, err := unix.Socket(family(p.Addr), unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		if proto != unix.IPPROTO_UDP && err == unix.EACCES {
			return Outcome{}, fmt.Errorf("ping socket: %w (gid %d outside net.ipv4.ping_group_range)", err, ownGID())
		}
		return Outcome{}, fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(fd)
	start := time.Now()
	deadline := start.Add(p.Timeout)
	if err := unix.Connect(fd, sockaddr(p.Addr, p.Port)); err != nil {
		return verdict(err, time.Since(start), "connect")
	}
	if _, err := unix.Write(fd, payload); err != nil {
		return verdict(err, time.Since(start), "send")
	}
	return verdict(awaitReply(fd, deadline, isReply), time.Since(start), "receive")
}

// awaitReply reads fd until a datagram accepted by isReply arrives (nil), an
// error is reported on the socket, or deadline passes (errTimeout).
func awaitReply(fd int, deadline time.Time, isReply func([]byte) bool) error {
	buf := make([]byte, 2048)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return errTimeout
		}
		tv := unix.NsecToTimeval(left.Nanoseconds())
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return fmt.Errorf("setsockopt SO_RCVTIMEO: %w", err)
		}
		n, err := unix.Read(fd, buf)
		switch {
		case err == unix.EAGAIN || err == unix.EINTR:
			continue
		case err != nil:
			return err
		case isReply(buf[:n]):
			return nil
		}
	}
}

// errTimeout marks an attempt that saw nothing before its deadline.
var errTimeout = errors.New("no answer before the timeout")

// verdict classifies the result of a step (connect, send, receive). A nil
// error is Connected; errnos outside the known verdicts are returned as
// errors, so an environment fault never passes for enforcement.
func verdict(err error, elapsed time.Duration, step string) (Outcome, error) {
	out := Outcome{Elapsed: elapsed}
	if err == nil {
		out.Result = Connected
		return out, nil
	}
	if err == errTimeout {
		out.Result, out.Detail = Timeout, step+": "+err.Error()
		return out, nil
	}
	var errno unix.Errno
	if !errors.As(err, &errno) {
		return out, fmt.Errorf("%s: %w", step, err)
	}
	out.Errno, out.Detail = unix.ErrnoName(errno), step+": "+errno.Error()
	switch errno {
	case unix.ECONNREFUSED:
		out.Result = Refused
	case unix.EPERM, unix.EACCES, unix.EHOSTUNREACH, unix.ENETUNREACH, unix.EHOSTDOWN, unix.ENETDOWN:
		out.Result = Blocked
	case unix.ETIMEDOUT:
		out.Result = Timeout
	default:
		return out, fmt.Errorf("%s: unexpected %s (%w)", step, out.Errno, errno)
	}
	return out, nil
}

// family is the socket address family for addr.
func family(addr netip.Addr) int {
	if addr.Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

// sockaddr converts an address and port to the socket form.
func sockaddr(addr netip.Addr, port uint16) unix.Sockaddr {
	if addr.Is4() {
		return &unix.SockaddrInet4{Addr: addr.As4(), Port: int(port)}
	}
	return &unix.SockaddrInet6{Addr: addr.As16(), Port: int(port)}
}

// echoRequest is an ICMP or ICMPv6 echo request of the given type. The kernel
// fills in the identifier and checksum of ping sockets.
func echoRequest(typ byte) []byte {
	return []byte{typ, 0, 0, 0, 0, 0, 0, 1, 'l', 'e', 'a', 's', 'h'}
}

// isEchoReply accepts ICMP messages of the given type (echo reply).
func isEchoReply(typ byte) func([]byte) bool {
	return func(b []byte) bool { return len(b) > 0 && b[0] == typ }
}

// isAnyReply accepts any datagram: the peer echoes UDP, or its DNS server answers.
func isAnyReply([]byte) bool { return true }

// dnsProbeQuery is the UDP probe's payload: a well-formed DNS query (id 0x1ea5,
// "." IN NS), so the peer's DNS server answers it as the UDP echo servers do.
func dnsProbeQuery() []byte {
	return []byte{
		0x1e, 0xa5, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, // header: RD, 1 question
		0,          // root name
		0, 2, 0, 1, // type NS, class IN
	}
}

// ownGID is the process's gid, for error messages.
func ownGID() int { return unix.Getgid() }
