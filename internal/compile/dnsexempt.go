package compile

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
)

// The DNS exemption: leash's own hostname lookups (the daemon's refresher,
// apply and reapply) are never denied by the policy leash enforces. Their
// sockets carry SO_MARK DNSMark (resolve.MarkedDial), which only a process
// with CAP_NET_ADMIN or CAP_NET_RAW in the host's network namespace can
// set, and the base chain accepts such packets to the configured DNS
// servers (Resolved.DNSServers: resolv.conf's nameservers or --resolver)
// on their DNS ports, over UDP and TCP, before any policy rule:
//
//	chain output {
//	    meta mark 0x6c656173 jump dns_exempt      # first: one compare per packet
//	    meta skuid vmap @users
//	    ...
//	}
//	chain dns_exempt {
//	    ip daddr @dns_servers_v4 meta l4proto udp th dport @dns_ports accept
//	    ip daddr @dns_servers_v4 meta l4proto tcp th dport @dns_ports accept
//	    ip6 daddr @dns_servers_v6 ...
//	}                                             # anything else returns to output
//
// A marked packet to any other address or port is judged by the policy as
// usual. Without DNS servers (none configured, or only hostnames) there is
// no exemption. See docs/security.md.
const (
	// DNSMark is the SO_MARK of leash's own DNS sockets ("leas").
	DNSMark uint32 = 0x6c656173
	// ChainDNSExempt holds the exemption's rules.
	ChainDNSExempt = "dns_exempt"
	setDNSPorts    = "dns_ports"
)

// dnsExempt returns the base chain's jump to the exemption and the chain,
// nil when there are no servers.
func (c *compiler) dnsExempt(r *policy.Resolved) (*ruleset.Rule, *ruleset.Chain) {
	var v4, v6 []netip.Prefix
	var ports []ruleset.Range
	for _, ap := range r.DNSServers {
		a := ap.Addr().Unmap().WithZone("")
		if !a.IsValid() || ap.Port() == 0 {
			continue
		}
		p := netip.PrefixFrom(a, a.BitLen())
		if a.Is4() && !slices.Contains(v4, p) {
			v4 = append(v4, p)
		} else if a.Is6() && !slices.Contains(v6, p) {
			v6 = append(v6, p)
		}
		if rg := (ruleset.Range{Lo: uint32(ap.Port()), Hi: uint32(ap.Port())}); !slices.Contains(ports, rg) {
			ports = append(ports, rg)
		}
	}
	if len(v4)+len(v6) == 0 {
		return nil, nil
	}
	slices.SortFunc(v4, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	slices.SortFunc(v6, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	slices.SortFunc(ports, func(a, b ruleset.Range) int { return int(a.Lo) - int(b.Lo) })
	var servers []string
	for _, ap := range r.DNSServers {
		servers = append(servers, ap.String())
	}
	o := ruleset.Origin{ID: "dns-exempt", What: "dns-exempt",
		Text: fmt.Sprintf("leash's own DNS lookups (socket mark 0x%08x) to the configured DNS servers %s", DNSMark, strings.Join(servers, ", "))}
	c.rs.Sets = append(c.rs.Sets, &ruleset.Set{Name: setDNSPorts, Kind: ruleset.KindPort, Ranges: ports})
	ch := &ruleset.Chain{Name: ChainDNSExempt}
	for _, fam := range []struct {
		name string
		kind ruleset.SetKind
		pfx  []netip.Prefix
	}{{"dns_servers_v4", ruleset.KindIPv4, v4}, {"dns_servers_v6", ruleset.KindIPv6, v6}} {
		if len(fam.pfx) == 0 {
			continue
		}
		c.rs.Sets = append(c.rs.Sets, &ruleset.Set{Name: fam.name, Kind: fam.kind, Prefixes: fam.pfx})
		for _, proto := range []uint32{ruleset.ProtoUDP, ruleset.ProtoTCP} {
			ch.Rules = append(ch.Rules, &ruleset.Rule{
				Match: []ruleset.Match{{Kind: ruleset.MatchDaddr, Set: fam.name},
					{Kind: ruleset.MatchL4Proto, Value: proto}, {Kind: ruleset.MatchDport, Set: setDNSPorts}},
				Verdict: ruleset.Verdict{Kind: ruleset.Accept}, Origin: o})
		}
	}
	jump := &ruleset.Rule{Match: []ruleset.Match{{Kind: ruleset.MatchMark, Value: DNSMark}},
		Verdict: ruleset.Verdict{Kind: ruleset.Jump, Chain: ChainDNSExempt}, Origin: o}
	return jump, ch
}
