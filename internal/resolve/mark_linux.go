package resolve

import (
	"context"
	"net"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/leash-dev/leash/internal/netns"
)

// MarkedDial returns a DNS.Dial whose sockets carry SO_MARK mark, so that
// the table accepts them to the configured servers before any policy rule
// (compile's DNS exemption: leash's own lookups are never denied by the
// policy it enforces). Setting SO_MARK takes CAP_NET_ADMIN (or CAP_NET_RAW)
// in the user namespace owning the socket's network namespace: an ordinary
// user cannot mark a socket. When the mark cannot be set (leash runs
// unprivileged, e.g. `leash validate` as a user), the connection is made
// without it. With nsName set, sockets are created inside the network
// namespace /run/netns/NSNAME (as NetNSDial).
func MarkedDial(mark uint32, nsName string) func(ctx context.Context, network, address string) (net.Conn, error) {
	return func(ctx context.Context, network, address string) (conn net.Conn, err error) {
		dial := func() error {
			conn, err = dialMarked(ctx, network, address, mark)
			return err
		}
		if nsName == "" {
			return conn, dial()
		}
		err = netns.DoIn(nsName, dial)
		return conn, err
	}
}

// dialMarked dials with SO_MARK set on the socket before it connects (the
// first packet, a TCP SYN or the UDP query, already carries it). A mark the
// caller may not set (EPERM) is left unset: the socket is then judged by
// the policy like any other.
func dialMarked(ctx context.Context, network, address string, mark uint32) (net.Conn, error) {
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, int(mark))
		}); err != nil {
			return err
		}
		if serr == unix.EPERM {
			return nil
		}
		return serr
	}}
	return d.DialContext(ctx, network, address)
}
