package nft

import (
	"errors"

	"github.com/leash-dev/leash/internal/firewalls"
	"github.com/leash-dev/leash/internal/netns"
)

// NSConn is a Conn bound to a named network namespace, holding the
// namespace open while in use.
type NSConn struct {
	*Conn
	ns *netns.NS
}

// OpenNetNS connects to nftables in the namespace /run/netns/NAME, or in the
// current namespace when name is "", with opts (Owning). Close releases the
// namespace handle (and an owning socket); it never removes the namespace.
func OpenNetNS(name string, opts ...Option) (*NSConn, error) {
	if name == "" {
		c, err := Open(opts...)
		if err != nil {
			return nil, err
		}
		return &NSConn{Conn: c}, nil
	}
	ns, err := netns.Open(name)
	if err != nil {
		return nil, err
	}
	c, err := Open(append([]Option{WithNetNS(ns.Fd())}, opts...)...)
	if err != nil {
		ns.Close()
		return nil, err
	}
	return &NSConn{Conn: c, ns: ns}, nil
}

// Others reads what filters packets besides leash's table in the
// connection's namespace: other tables' base chains (OtherChains) and the
// legacy iptables tables (firewalls.ReadLegacy, read from inside the
// namespace).
func (c *NSConn) Others() (firewalls.Others, error) {
	chains, err := c.OtherChains()
	if err != nil {
		return firewalls.Others{}, err
	}
	o := firewalls.Others{Chains: chains}
	read := func() error {
		o.Legacy = firewalls.ReadLegacy("/proc/thread-self/net")
		return nil
	}
	if c.ns == nil {
		_ = read()
	} else if err := c.ns.Do(read); err != nil {
		return firewalls.Others{}, err
	}
	return o, nil
}

// Close closes an owning socket (the table stays) and releases the
// namespace handle.
func (c *NSConn) Close() error {
	err := c.Conn.Close()
	if c.ns == nil {
		return err
	}
	return errors.Join(err, c.ns.Close())
}
