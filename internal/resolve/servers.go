package resolve

import (
	"net/netip"
)

// ServerLister is a Resolver that asks known DNS servers: their addresses
// are what the table lets leash's own marked DNS traffic reach (see
// compile's DNS exemption and docs/security.md).
type ServerLister interface {
	ServerAddrs() ([]netip.AddrPort, error)
}

// ServerAddrs implements ServerLister: the servers d asks (Servers, or
// resolv.conf's first three), those given as addresses; a server named by
// a hostname is left out.
func (d *DNS) ServerAddrs() ([]netip.AddrPort, error) {
	conf, err := d.config()
	if err != nil {
		return nil, err
	}
	var out []netip.AddrPort
	for _, s := range conf.servers {
		if ap, err := netip.ParseAddrPort(s); err == nil {
			out = append(out, netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port()))
		}
	}
	return out, nil
}
