package resolve

import "net/netip"

// HostsFile is a Resolver that can also answer from the hosts file alone,
// without DNS: the names of LAN hosts in a policy's `hosts:` (a forwarded
// packet's source must not depend on what a DNS server says).
type HostsFile interface {
	// LookupHostsFile returns host's addresses in the hosts file, sorted
	// and unique; none (and no error) when it is not there.
	LookupHostsFile(host string) ([]netip.Addr, error)
}

// LookupHostsFile looks host up in d's hosts file only (none when NoHosts).
func (d *DNS) LookupHostsFile(host string) ([]netip.Addr, error) { return d.fromHosts(host) }

// LookupHostsFile answers from the static table, which stands for a hosts
// file in tests.
func (s static) LookupHostsFile(host string) ([]netip.Addr, error) {
	return sortUnique(append([]netip.Addr(nil), s[canonical(host)]...)), nil
}
