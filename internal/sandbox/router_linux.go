package sandbox

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/leash-dev/leash/internal/netns"
)

// The LAN topology (Config.LAN): a third namespace, a host on a LAN behind
// the client, which becomes a router that forwards and masquerades:
//
//	lan  leash-sbx-<pid>-<n>-lan       client (router, policy here)          peer (upstream)
//	  lan0 10.200.1.2/24  <-veth->  lan0 10.200.1.1/24   leash0 10.200.0.2  <-veth->  leash0 10.200.0.1
//	       fd00:200:1::2/64              fd00:200:1::1/64       fd00:200::2              fd00:200::1
//	       MAC LANMAC                    forwarding on, masquerade out of leash0
//	  default via the router
//
// Probes with From: FromLAN run in the LAN namespace, so their packets
// reach the policy on the router's forward hook, without a local socket.
// The masquerade (a table of its own, `table inet leash-sbx-nat`, which
// leash never touches) lets the peer's replies, which go to the router's
// address, find their way back without routes in the peer.
const (
	lanLink = "lan0"
	// UpstreamLink is the router's way out to the peer (the client's leash0).
	UpstreamLink = linkName
	// FromLAN is the Probe.From of a probe sent by the LAN host.
	FromLAN = "lan"

	LANRouterIPv4 = "10.200.1.1"
	LANHostIPv4   = "10.200.1.2"
	LANRouterIPv6 = "fd00:200:1::1"
	LANHostIPv6   = "fd00:200:1::2"
	// LANMAC is the LAN host's MAC address (locally administered).
	LANMAC = "02:00:00:c8:01:02"
	// natTable is the router's masquerade table.
	natTable = "leash-sbx-nat"
)

// LAN is the LAN host's namespace (Config.LAN; nil otherwise). It stays
// valid until Close.
func (s *Sandbox) LAN() *netns.NS { return s.lan }

// LANHost4 and LANHost6 are the LAN host's first addresses.
func LANHost4() netip.Addr { return netip.MustParseAddr(LANHostIPv4) }
func LANHost6() netip.Addr { return netip.MustParseAddr(LANHostIPv6) }

// createLAN creates the LAN namespace next to the client and peer of the
// same sandbox.
func (s *Sandbox) createLAN(pid int) error {
	n, err := s.number(pid)
	if err != nil {
		return err
	}
	s.lan, err = netns.Create(nsName(pid, n, "lan"))
	if err != nil {
		return fmt.Errorf("sandbox: create LAN namespace: %w", err)
	}
	return nil
}

// number is the sandbox number <n> in the client namespace's name.
func (s *Sandbox) number(pid int) (int, error) {
	var n int
	var role string
	if _, err := fmt.Sscanf(s.client.Name, namePrefix+fmt.Sprint(pid)+"-%d-%s", &n, &role); err != nil {
		return 0, fmt.Errorf("sandbox: namespace name %q: %w", s.client.Name, err)
	}
	return n, nil
}

// configureLAN wires the LAN host to the client and makes the client a
// router: forwarding on for both families, and a masquerade of what leaves
// through leash0.
func configureLAN(ctx context.Context, run Runner, client, lan *netns.NS) error {
	noDAD := []sysctl{{"net/ipv6/conf/all/accept_dad", "0"}, {"net/ipv6/conf/default/accept_dad", "0"}}
	if err := writeSysctls(lan, append(noDAD, sysctl{"net/ipv4/ping_group_range", "0 2147483647"})); err != nil {
		return err
	}
	if err := writeSysctls(client, []sysctl{{"net/ipv4/ip_forward", "1"}, {"net/ipv6/conf/all/forwarding", "1"},
		{"net/ipv6/conf/default/keep_addr_on_down", "1"}}); err != nil { // SetLANHost renames the link: down and up
		return err
	}
	c, l := client.Name, lan.Name
	steps := [][]string{
		{"-n", c, "link", "add", lanLink, "type", "veth", "peer", "name", lanLink, "netns", l},
		{"-n", c, "link", "set", lanLink, "up"},
		{"-n", c, "addr", "add", LANRouterIPv4 + "/24", "dev", lanLink},
		{"-n", c, "addr", "add", LANRouterIPv6 + "/64", "dev", lanLink, "nodad"},
		{"-n", l, "link", "set", "lo", "up"},
		{"-n", l, "link", "set", lanLink, "address", LANMAC},
		{"-n", l, "link", "set", lanLink, "up"},
		{"-n", l, "addr", "add", LANHostIPv4 + "/24", "dev", lanLink},
		{"-n", l, "addr", "add", LANHostIPv6 + "/64", "dev", lanLink, "nodad"},
		{"-n", l, "route", "add", "default", "via", LANRouterIPv4},
		{"-n", l, "-6", "route", "add", "default", "via", LANRouterIPv6},
		{"netns", "exec", c, "nft", "add table inet " + natTable + "; " +
			"add chain inet " + natTable + " post { type nat hook postrouting priority srcnat; policy accept; }; " +
			"add rule inet " + natTable + " post oifname " + linkName + " masquerade"},
	}
	for _, args := range steps {
		if _, err := run(ctx, "ip", args...); err != nil {
			return fmt.Errorf("sandbox: configure LAN topology: %w", err)
		}
	}
	return nil
}

// LANHost is who the LAN host is for a probe: its MAC address, its IPv4
// and IPv6 source addresses, and the name of the router's interface it is
// behind (its incoming interface on the router). Zero fields keep the
// defaults: LANMAC, LANHostIPv4, LANHostIPv6, lan0.
type LANHost struct {
	MAC       string
	Addr4     netip.Addr
	Addr6     netip.Addr
	Interface string
}

// withDefaults fills the zero fields.
func (h LANHost) withDefaults() LANHost {
	if h.MAC == "" {
		h.MAC = LANMAC
	}
	if !h.Addr4.IsValid() {
		h.Addr4 = LANHost4()
	}
	if !h.Addr6.IsValid() {
		h.Addr6 = LANHost6()
	}
	if h.Interface == "" {
		h.Interface = lanLink
	}
	return h
}

// SetLANHost makes the LAN host h (Config.LAN only) and returns it with
// the defaults filled in: the router's interface renamed, the host's MAC
// set, its addresses replaced by h's (a /32 and a /128, reached on-link
// both ways, so any address works). Idempotent; not concurrent with probes.
func (s *Sandbox) SetLANHost(ctx context.Context, h LANHost) (LANHost, error) {
	if s.lan == nil {
		return LANHost{}, fmt.Errorf("sandbox: SetLANHost without Config.LAN")
	}
	h = h.withDefaults()
	if !h.Addr4.Is4() || !h.Addr6.Is6() || h.Addr6.Is4In6() {
		return LANHost{}, fmt.Errorf("sandbox: LAN host addresses %v and %v: want an IPv4 and an IPv6 address", h.Addr4, h.Addr6)
	}
	c, l := s.client.Name, s.lan.Name
	var steps [][]string
	if h.Interface != s.lanIface() {
		steps = append(steps,
			[]string{"-n", c, "link", "set", s.lanIface(), "down"},
			[]string{"-n", c, "link", "set", s.lanIface(), "name", h.Interface},
			[]string{"-n", c, "link", "set", h.Interface, "up"})
	}
	steps = append(steps,
		[]string{"-n", l, "link", "set", lanLink, "down"},
		[]string{"-n", l, "link", "set", lanLink, "address", h.MAC},
		[]string{"-n", l, "link", "set", lanLink, "up"},
		[]string{"-n", l, "-4", "addr", "flush", "dev", lanLink},
		[]string{"-n", l, "-6", "addr", "flush", "dev", lanLink, "scope", "global"},
		[]string{"-n", l, "addr", "add", h.Addr4.String() + "/32", "dev", lanLink},
		[]string{"-n", l, "addr", "add", h.Addr6.String() + "/128", "dev", lanLink, "nodad"},
		[]string{"-n", l, "route", "replace", "default", "via", LANRouterIPv4, "dev", lanLink, "onlink"},
		[]string{"-n", l, "-6", "route", "replace", "default", "via", LANRouterIPv6, "dev", lanLink, "onlink"},
		[]string{"-n", c, "route", "replace", h.Addr4.String() + "/32", "dev", h.Interface},
		[]string{"-n", c, "-6", "route", "replace", h.Addr6.String() + "/128", "dev", h.Interface},
		[]string{"-n", c, "neigh", "flush", "dev", h.Interface},
	)
	for _, args := range steps {
		if _, err := s.run(ctx, "ip", args...); err != nil {
			return LANHost{}, fmt.Errorf("sandbox: set LAN host: %w", err)
		}
	}
	s.lanName = h.Interface
	return h, nil
}

// lanIface is the router's current name of its LAN interface.
func (s *Sandbox) lanIface() string {
	if s.lanName == "" {
		return lanLink
	}
	return s.lanName
}
