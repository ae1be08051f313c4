package netns

import (
	"fmt"
	"net"
	"net/netip"
)

// RouteOif is the interface a connection to dst would leave through in
// the namespace /run/netns/NAME (or the current one when name is ""),
// by the main routing decision: it connects a UDP socket to dst, which
// asks the kernel for the route and sends nothing, and names the
// interface holding the source address the kernel chose. "" with no
// error when there is no route. Policy routing by uid or mark is not
// taken into account.
func RouteOif(name string, dst netip.Addr) (string, error) {
	var oif string
	find := func() error {
		c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, 9)))
		if err != nil {
			return nil // no route (ENETUNREACH, EHOSTUNREACH...): unknown
		}
		src := c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
		c.Close()
		oif, err = interfaceOf(src)
		return err
	}
	if name == "" {
		return oif, find()
	}
	ns, err := Open(name)
	if err != nil {
		return "", err
	}
	defer ns.Close()
	return oif, ns.Do(find)
}

// interfaceOf names the interface that holds address a ("" if none).
func interfaceOf(a netip.Addr) (string, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return "", fmt.Errorf("list interfaces: %w", err)
	}
	for _, ifc := range ifs {
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, ad := range addrs {
			if p, err := netip.ParsePrefix(ad.String()); err == nil && p.Addr().Unmap() == a {
				return ifc.Name, nil
			}
		}
	}
	return "", nil
}
