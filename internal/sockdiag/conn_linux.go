package sockdiag

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// ErrNotFound is returned (wrapped) by Find when no socket has the tuple.
var ErrNotFound = errors.New("no such socket")

// defaultTimeout bounds one request when the context has no deadline.
const defaultTimeout = 10 * time.Second

// Conn is a NETLINK_SOCK_DIAG socket in one network namespace. It is safe
// for concurrent use; requests are serialized.
type Conn struct {
	mu sync.Mutex
	nl transport
}

// transport is the part of *netlink.Conn that Conn uses.
type transport interface {
	Execute(m netlink.Message) ([]netlink.Message, error)
	SetDeadline(t time.Time) error
	Close() error
}

type config struct{ netns int }

// Option configures Dial.
type Option func(*config)

// WithNetNS makes the Conn list the sockets of the network namespace
// referred to by fd (e.g. netns.NS.Fd()). The fd is only used by Dial.
func WithNetNS(fd int) Option { return func(c *config) { c.netns = fd } }

// Dial opens a sock_diag netlink socket in the calling thread's network
// namespace, or in the one given by WithNetNS. Close it when done.
func Dial(opts ...Option) (*Conn, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	nl, err := netlink.Dial(unix.NETLINK_SOCK_DIAG, &netlink.Config{NetNS: cfg.netns, Strict: true})
	if err != nil {
		return nil, fmt.Errorf("sockdiag: open sock_diag netlink socket: %w", err)
	}
	return &Conn{nl: nl}, nil
}

// Close closes the netlink socket.
func (c *Conn) Close() error { return c.nl.Close() }

// List returns the sockets f selects, protocol by protocol and family by
// family. A protocol the kernel cannot list (UDP-Lite on a kernel without
// it) contributes no sockets.
func (c *Conn) List(ctx context.Context, f Filter) ([]Socket, error) {
	var out []Socket
	for _, p := range f.protos() {
		for _, fam := range f.families() {
			msgs, err := c.execute(ctx, dumpMessage(p, fam, f.states()))
			if p != TCP && p != UDP && errors.Is(err, unix.ENOENT) {
				continue // no diag handler for this protocol
			}
			if err != nil {
				return nil, fmt.Errorf("sockdiag: list %s %s sockets: %w", p, fam, err)
			}
			socks, err := decodeAll(p, msgs)
			if err != nil {
				return nil, err
			}
			out = append(out, socks...)
		}
	}
	return out, nil
}

// Find returns the socket of protocol p whose local end is src and remote
// end is dst: the tuple of a packet it sent. Addresses may be IPv4-mapped;
// an IPv4 tuple also finds an IPv6 socket talking IPv4. For UDP the kernel
// returns the best match as for an arriving datagram, so an unconnected
// socket bound to src is found too. It returns an error wrapping
// ErrNotFound when there is no such socket (any more).
func (c *Conn) Find(ctx context.Context, p Proto, src, dst netip.AddrPort) (Socket, error) {
	msgs, err := c.execute(ctx, exactMessage(p, src, dst))
	if errors.Is(err, unix.ENOENT) {
		return Socket{}, fmt.Errorf("sockdiag: %s socket %v -> %v: %w", p, src, dst, ErrNotFound)
	}
	if err != nil {
		return Socket{}, fmt.Errorf("sockdiag: find %s socket %v -> %v: %w", p, src, dst, err)
	}
	socks, err := decodeAll(p, msgs)
	if err != nil {
		return Socket{}, err
	}
	if len(socks) != 1 {
		return Socket{}, fmt.Errorf("sockdiag: find %s socket %v -> %v: %d answers, want 1", p, src, dst, len(socks))
	}
	return socks[0], nil
}

// execute sends m and collects the answers, within ctx's deadline (or
// defaultTimeout).
func (c *Conn) execute(ctx context.Context, m netlink.Message) ([]netlink.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(defaultTimeout)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.nl.SetDeadline(deadline); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { c.nl.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	msgs, err := c.nl.Execute(m)
	if err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	return msgs, err
}

// decodeAll decodes the SOCK_DIAG_BY_FAMILY answers among msgs.
func decodeAll(p Proto, msgs []netlink.Message) ([]Socket, error) {
	out := make([]Socket, 0, len(msgs))
	for _, m := range msgs {
		if m.Header.Type != unix.SOCK_DIAG_BY_FAMILY {
			continue
		}
		s, err := decodeSocket(p, m.Data)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}
