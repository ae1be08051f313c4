package nft

import (
	"github.com/leash-dev/leash/internal/netns"
)

// NSConn is a Conn bound to a named network namespace, holding the
// namespace open while in use.
type NSConn struct {
	*Conn
	ns *netns.NS
}

// OpenNetNS connects to nftables in the namespace /run/netns/NAME, or in the
// current namespace when name is "". Close releases the namespace handle; it
// never removes the namespace.
func OpenNetNS(name string) (*NSConn, error) {
	if name == "" {
		c, err := Open()
		if err != nil {
			return nil, err
		}
		return &NSConn{Conn: c}, nil
	}
	ns, err := netns.Open(name)
	if err != nil {
		return nil, err
	}
	c, err := Open(WithNetNS(ns.Fd()))
	if err != nil {
		ns.Close()
		return nil, err
	}
	return &NSConn{Conn: c, ns: ns}, nil
}

// Close releases the namespace handle.
func (c *NSConn) Close() error {
	if c.ns == nil {
		return nil
	}
	return c.ns.Close()
}
