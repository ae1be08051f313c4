package nft

import (
	"errors"
	"fmt"

	"github.com/google/nftables"
	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Conn talks to nftables in one network namespace. It holds no socket: every
// operation opens its own netlink socket and closes it (except with
// Owning: then changes go through one socket held until Close). A Conn is safe for
// sequential use; operations are not serialized against other processes
// except through the kernel's own transactions.
type Conn struct {
	netns int    // namespace fd; 0 means the caller's current namespace
	nsID  nsID   // what netns referred to at Open
	own   *owner // Owning: the one socket every change is sent on
}

// Option configures Open.
type Option func(*Conn)

// WithNetNS makes the Conn operate on the network namespace referred to by
// fd (e.g. netns.NS.Fd()). The fd must stay open while the Conn is used.
func WithNetNS(fd int) Option { return func(c *Conn) { c.netns = fd } }

// Open returns a Conn for the current network namespace, or the one given by
// WithNetNS. It checks that nftables is reachable.
func Open(opts ...Option) (*Conn, error) {
	c := &Conn{}
	for _, o := range opts {
		o(c)
	}
	if c.netns != 0 {
		id, err := namespaceOf(c.netns)
		if err != nil {
			return nil, fmt.Errorf("nft: network namespace fd %d: %w", c.netns, err)
		}
		c.nsID = id
	}
	nl, err := c.dial()
	if err != nil {
		return nil, err
	}
	nl.Close()
	if c.own != nil {
		if err := c.openOwner(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// table is leash's table.
func table() *nftables.Table {
	return &nftables.Table{Name: ruleset.TableName, Family: nftables.TableFamilyINet}
}

// nsID identifies a network namespace: the device and inode of an fd that
// refers to it.
type nsID struct{ dev, ino uint64 }

// namespaceOf is the identity of the namespace fd refers to.
func namespaceOf(fd int) (nsID, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nsID{}, err
	}
	return nsID{dev: st.Dev, ino: st.Ino}, nil
}

// nsFd is the namespace fd to dial in (0: the current namespace), after
// checking that it still refers to the namespace it did at Open. The fd is
// the caller's (WithNetNS): were it closed, a socket would be opened in
// whatever namespace the caller is in, and were its number reused, in any
// namespace at all, so that a change meant for a throwaway namespace could
// land in the host's firewall. Both are refused instead.
func (c *Conn) nsFd() (int, error) {
	if c.netns == 0 {
		return 0, nil
	}
	if id, err := namespaceOf(c.netns); err != nil || id != c.nsID {
		return 0, fmt.Errorf("nft: the network namespace handle (fd %d) was closed or reused since the connection was opened; nothing was sent", c.netns)
	}
	return c.netns, nil
}

// nft returns a fresh google/nftables connection in c's namespace.
func (c *Conn) nft() (*nftables.Conn, error) {
	fd, err := c.nsFd()
	if err != nil {
		return nil, err
	}
	nc, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		return nil, fmt.Errorf("nft: open nftables connection: %w", err)
	}
	return nc, nil
}

// dial opens a raw NETLINK_NETFILTER socket in c's namespace.
func (c *Conn) dial() (*netlink.Conn, error) {
	fd, err := c.nsFd()
	if err != nil {
		return nil, err
	}
	nl, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: fd})
	if err != nil {
		return nil, fmt.Errorf("nft: open netfilter netlink socket: %w", err)
	}
	return nl, nil
}

// Exists reports whether `table inet leash` is present.
// nft equivalent: `nft list table inet leash` succeeding.
func (c *Conn) Exists() (bool, error) {
	nc, err := c.nft()
	if err != nil {
		return false, err
	}
	_, err = nc.ListTableOfFamily(ruleset.TableName, nftables.TableFamilyINet)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, unix.ENOENT):
		return false, nil
	}
	return false, fmt.Errorf("nft: look up table inet %s: %w", ruleset.TableName, err)
}

// Reset deletes `table inet leash` and everything in it, and nothing else.
// It is idempotent: no error if the table is absent.
// nft equivalent: `nft destroy table inet leash` (kernel >= 6.3).
func (c *Conn) Reset() error {
	return c.change(func(nc *nftables.Conn) error {
		nc.DestroyTable(table())
		if err := nc.Flush(); err != nil {
			return fmt.Errorf("nft: destroy table inet %s: %w", ruleset.TableName, err)
		}
		return nil
	})
}
