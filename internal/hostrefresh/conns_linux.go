package hostrefresh

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/leash-dev/leash/internal/netns"
	"github.com/leash-dev/leash/internal/sockdiag"
)

// SocketConns is Conns over sock_diag: the remote addresses of the TCP and
// UDP sockets of a network namespace (NetNS, /run/netns/NAME; "" for the
// daemon's own) that are connected or connecting, in any state but
// listening, closed and time-wait (ss -t state connected, plus connected
// UDP sockets). The table judges packets of local sockets only, so these
// are every connection an address's removal could cut.
type SocketConns struct {
	NetNS string
}

// liveStates are the socket states that still exchange packets.
var liveStates = sockdiag.StatesOf(sockdiag.Established, sockdiag.SynSent, sockdiag.SynRecv,
	sockdiag.FinWait1, sockdiag.FinWait2, sockdiag.CloseWait, sockdiag.LastAck, sockdiag.Closing)

// Live implements Conns.
func (s SocketConns) Live(ctx context.Context) (map[netip.Addr]bool, error) {
	var opts []sockdiag.Option
	if s.NetNS != "" {
		ns, err := netns.Open(s.NetNS)
		if err != nil {
			return nil, err
		}
		defer ns.Close()
		opts = append(opts, sockdiag.WithNetNS(ns.Fd()))
	}
	c, err := sockdiag.Dial(opts...)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	socks, err := c.List(ctx, sockdiag.Filter{States: liveStates})
	if err != nil {
		return nil, fmt.Errorf("hostnames: list connections: %w", err)
	}
	out := map[netip.Addr]bool{}
	for _, sk := range socks {
		if sk.Connected() {
			out[sk.Dst.Addr().Unmap().WithZone("")] = true
		}
	}
	return out, nil
}
