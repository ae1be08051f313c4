package netns

import (
	"net"
	"net/netip"
)

// LocalAddrs lists the addresses assigned to interfaces in the namespace
// /run/netns/NAME, or in the current namespace when name is "". Packets to
// these addresses leave through lo.
func LocalAddrs(name string) ([]netip.Addr, error) {
	var out []netip.Addr
	list := func() error {
		addrs, err := net.InterfaceAddrs()
		if err != nil {
			return err
		}
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				out = append(out, p.Addr().Unmap())
			}
		}
		return nil
	}
	if name == "" {
		return out, list()
	}
	ns, err := Open(name)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	return out, ns.Do(list)
}
