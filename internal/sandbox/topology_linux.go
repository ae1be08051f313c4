package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/leash-dev/leash/internal/netns"
)

// Names and addresses of the topology. Both namespaces hold one end of a veth
// pair named linkName; the client routes everything through the peer.
const (
	namePrefix = "leash-sbx-" // namespaces are leash-sbx-<pid>-<n>-client and -peer
	linkName   = "leash0"

	clientIPv4 = "10.200.0.2"
	peerIPv4   = "10.200.0.1"
	clientIPv6 = "fd00:200::2"
	peerIPv6   = "fd00:200::1"

	// maxSandboxesPerProcess bounds the search for a free <n> in the names.
	maxSandboxesPerProcess = 1000
)

// isClientAddr reports whether a probe to a stays on the client: loopback,
// or one of the client's own addresses (the kernel routes both over lo).
func isClientAddr(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsLoopback() || a == netip.MustParseAddr(clientIPv4) || a == netip.MustParseAddr(clientIPv6)
}

// peerAddr4 and peerAddr6 are the peer's own addresses on the link, where
// its DNS server listens.
func peerAddr4() netip.Addr { return netip.MustParseAddr(peerIPv4) }
func peerAddr6() netip.Addr { return netip.MustParseAddr(peerIPv6) }

// nsName is the name of one namespace of sandbox n of process pid.
func nsName(pid, n int, role string) string {
	return fmt.Sprintf("%s%d-%d-%s", namePrefix, pid, n, role)
}

// createNamespaces creates the client and peer namespaces under the first
// free sandbox number of this process.
func createNamespaces(pid int) (client, peer *netns.NS, err error) {
	for n := 0; n < maxSandboxesPerProcess; n++ {
		client, err = netns.Create(nsName(pid, n, "client"))
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("sandbox: create client namespace: %w", err)
		}
		peer, err = netns.Create(nsName(pid, n, "peer"))
		if err != nil {
			client.Close()
			return nil, nil, fmt.Errorf("sandbox: create peer namespace: %w", err)
		}
		return client, peer, nil
	}
	return nil, nil, fmt.Errorf("sandbox: no free namespace name %s for pid %d", nsName(pid, maxSandboxesPerProcess, "*"), pid)
}

// configure wires the two namespaces together:
//
//   - client: lo up; 10.200.0.2/24 and fd00:200::2/64 on leash0; default
//     routes via the peer; ping sockets allowed for every gid; every port
//     bindable by every uid (a subject serving port 25 in an inbound case).
//   - peer: 10.200.0.1/24 and fd00:200::1/64 on leash0, and "AnyIP": a
//     `local 0.0.0.0/0` and `local ::/0` route in its local table, so every
//     destination is one of its own addresses. The link prefixes (and fe80::/64)
//     are put back as ordinary routes in the same table, or the replies to the
//     client would loop to lo. Using the local table (not a policy-routed
//     table) matters for IPv4: the kernel only sends from a non-configured
//     source (SYN-ACKs, UDP replies, ICMP echo replies from 203.0.113.9) if the
//     local table says that source is local. ip_nonlocal_bind lets listeners
//     bind to any such address.
//
// IPv6 duplicate address detection is off so the addresses are usable at once.
// Nothing outside the two namespaces is touched.
func configure(ctx context.Context, run Runner, client, peer *netns.NS) error {
	noDAD := []sysctl{{"net/ipv6/conf/all/accept_dad", "0"}, {"net/ipv6/conf/default/accept_dad", "0"}}
	if err := writeSysctls(client, append(noDAD, sysctl{"net/ipv4/ping_group_range", "0 2147483647"},
		sysctl{"net/ipv4/ip_unprivileged_port_start", "0"})); err != nil {
		return err
	}
	if err := writeSysctls(peer, append(noDAD,
		sysctl{"net/ipv4/ip_nonlocal_bind", "1"}, sysctl{"net/ipv6/ip_nonlocal_bind", "1"})); err != nil {
		return err
	}
	c, p := client.Name, peer.Name
	steps := [][]string{
		{"-n", c, "link", "add", linkName, "type", "veth", "peer", "name", linkName, "netns", p},
		{"-n", c, "link", "set", "lo", "up"},
		{"-n", c, "link", "set", linkName, "up"},
		{"-n", c, "addr", "add", clientIPv4 + "/24", "dev", linkName},
		{"-n", c, "addr", "add", clientIPv6 + "/64", "dev", linkName, "nodad"},
		{"-n", c, "route", "add", "default", "via", peerIPv4},
		{"-n", c, "-6", "route", "add", "default", "via", peerIPv6},

		{"-n", p, "link", "set", "lo", "up"},
		{"-n", p, "link", "set", linkName, "up"},
		{"-n", p, "addr", "add", peerIPv4 + "/24", "dev", linkName},
		{"-n", p, "addr", "add", peerIPv6 + "/64", "dev", linkName, "nodad"},
		{"-n", p, "route", "add", "local", "0.0.0.0/0", "dev", "lo", "table", "local"},
		{"-n", p, "route", "add", "10.200.0.0/24", "dev", linkName, "src", peerIPv4, "table", "local"},
		{"-n", p, "-6", "route", "add", "local", "::/0", "dev", "lo", "table", "local"},
		{"-n", p, "-6", "route", "add", "fd00:200::/64", "dev", linkName, "table", "local"},
		{"-n", p, "-6", "route", "add", "fe80::/64", "dev", linkName, "table", "local"},
	}
	for _, args := range steps {
		if _, err := run(ctx, "ip", args...); err != nil {
			return fmt.Errorf("sandbox: configure topology: %w", err)
		}
	}
	return nil
}

// sysctl is one /proc/sys/KEY setting.
type sysctl struct{ key, value string }

// writeSysctls sets per-namespace sysctls from inside ns (/proc/sys/net shows
// the namespace of the thread that opens it).
func writeSysctls(ns *netns.NS, settings []sysctl) error {
	return ns.Do(func() error {
		for _, s := range settings {
			path := filepath.Join("/proc/sys", s.key)
			if err := os.WriteFile(path, []byte(s.value), 0o644); err != nil {
				return fmt.Errorf("sandbox: sysctl %s=%s in %s: %w", s.key, s.value, ns.Name, err)
			}
		}
		return nil
	})
}
