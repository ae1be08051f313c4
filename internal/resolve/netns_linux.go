package resolve

import (
	"context"
	"net"

	"github.com/leash-dev/leash/internal/netns"
)

// NetNSDial returns a DNS.Dial that opens every connection from inside the
// network namespace /run/netns/NAME: the socket is created on a thread in
// that namespace and keeps it, whichever goroutine then uses it.
func NetNSDial(name string) func(ctx context.Context, network, address string) (net.Conn, error) {
	return func(ctx context.Context, network, address string) (conn net.Conn, err error) {
		err = netns.DoIn(name, func() error {
			var d net.Dialer
			conn, err = d.DialContext(ctx, network, address)
			return err
		})
		return conn, err
	}
}
