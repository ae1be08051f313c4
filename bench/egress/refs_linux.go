package main

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/leash-dev/leash/bench/benchpolicy"
)

// refTable is the table the reference rulesets are loaded into with nft -f.
const refTable = "benchref"

// reference is a hand-written nft ruleset measured the same way as leash's,
// to put leash's ratio next to known points.
type reference struct {
	Name string
	Desc string
	Text func(uid uint32, cidrs int) string // nft -f input; uid is the measured user
}

// references are the known points of the issue, a linear list of owner
// rules (the naive compilation) and a hand-built uid verdict map, and the
// parts of leash's packet path one at a time: conntrack alone (which any
// ct match switches on), an interval uid map of 100,000 entries (leash's
// users map), the 100,000-CIDR interval set, the same CIDRs in leash's
// masked hash layout, and the hash uid map behind a conntrack rule.
func references() []reference {
	return []reference{
		{"linear-10k", "10,000 `meta skuid X drop` rules (other uids), then accept", linearRules},
		{"vmap-10k", "hand-built `meta skuid vmap` (hash) of 10,000 uids (measured: accept)", uidVmap},
		{"conntrack", "only `ct state established accept; accept` (conntrack on)", ctOnly},
		{"ivmap-100k", "`meta skuid vmap` with flags interval, 100,000 uids (measured: accept)", intervalVmap},
		{"cidrset-100k", "`ip daddr @set drop; accept`, the benchmark's CIDRs in an interval set", cidrSet},
		{"cidrhash-100k", "`ip daddr & 255.255.255.240 @set drop; accept`, the same CIDRs as a hash set of /28 network addresses (leash's layout)", cidrHash},
		{"vmap-ct-10k", "`ct state established accept` then the hand-built hash uid vmap (measured: accept)", uidVmapCt},
	}
}

// otherUID is the i-th uid of the reference rulesets, never the measured one.
func otherUID(i int) uint32 { return uint32(500000 + 2*i) }

func linearRules(uint32, int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s {\n chain output {\n  type filter hook output priority 0; policy accept;\n", refTable)
	for i := range 10_000 {
		fmt.Fprintf(&b, "  meta skuid %d drop\n", otherUID(i))
	}
	b.WriteString("  accept\n }\n}\n")
	return b.String()
}

func uidVmap(uid uint32, _ int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s {\n map users {\n  type uid : verdict\n  elements = { %d : accept", refTable, uid)
	for i := range 10_000 - 1 {
		fmt.Fprintf(&b, ", %d : drop", otherUID(i))
	}
	b.WriteString(" }\n }\n chain output {\n  type filter hook output priority 0; policy accept;\n  meta skuid vmap @users\n }\n}\n")
	return b.String()
}

func ctOnly(uint32, int) string {
	return fmt.Sprintf("table inet %s {\n chain output {\n  type filter hook output priority 0; policy accept;\n  ct state established accept\n  accept\n }\n}\n", refTable)
}

// intervalVmap is an interval uid map like leash's: 100,000 single uids
// 1000, 1002, ... (never 0, so root's sockets pass), the measured one
// among them, in the middle.
func intervalVmap(uid uint32, _ int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s {\n map users {\n  type uid : verdict\n  flags interval\n  elements = { ", refTable)
	for i := range 100_000 {
		u, v := uint32(1000+2*i), "drop"
		if u == uid {
			v = "accept"
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d : %s", u, v)
	}
	b.WriteString(" }\n }\n chain output {\n  type filter hook output priority 0; policy accept;\n  meta skuid vmap @users\n }\n}\n")
	return b.String()
}

// cidrSet is the benchmark's deny list alone, looked up by every packet.
func cidrSet(_ uint32, cidrs int) string {
	return denyRef("  flags interval\n", "ip daddr", cidrs, netip.Prefix.String)
}

// cidrHash is the deny list as leash lays it out: a hash set of the /28s'
// network addresses, looked up with a mask.
func cidrHash(_ uint32, cidrs int) string {
	return denyRef("", "ip daddr & 255.255.255.240", cidrs, func(p netip.Prefix) string { return p.Addr().String() })
}

// denyRef is a table whose output chain drops what key finds in set deny
// (type ipv4_addr, with flags, one element per benchmark prefix written by
// elem) and accepts the rest.
func denyRef(flags, key string, cidrs int, elem func(netip.Prefix) string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s {\n set deny {\n  type ipv4_addr\n%s  elements = { ", refTable, flags)
	for i, p := range benchpolicy.Prefixes(cidrs) {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(elem(p))
	}
	fmt.Fprintf(&b, " }\n }\n chain output {\n  type filter hook output priority 0; policy accept;\n  %s @deny drop\n  accept\n }\n}\n", key)
	return b.String()
}

// uidVmapCt is uidVmap behind a conntrack rule: the hand-built map on a
// host where conntrack is on anyway.
func uidVmapCt(uid uint32, n int) string {
	return strings.Replace(uidVmap(uid, n), "  meta skuid vmap @users\n", "  ct state established accept\n  meta skuid vmap @users\n", 1)
}

// Host firewalls present in both namespaces of a case.
const (
	// hostBare: none; the bare namespace has no ruleset at all.
	hostBare = "bare"
	// hostStateful: hostTable, a stateful input firewall like most servers
	// run (ufw, firewalld, Docker all use conntrack), in both namespaces.
	hostStateful = "stateful"
)

// hostTable is the stateful host firewall: its ct match switches conntrack
// on in the namespace, as on most servers, so that the ratio shows what
// leash adds there. It is another tool's table; leash must leave it alone.
const hostTable = `table inet hostfw {
 chain input {
  type filter hook input priority filter; policy accept;
  ct state established,related accept
  ct state invalid drop
 }
}
`

// loadHost loads host's firewall into both sides' client namespaces.
func loadHost(host string, a, b route) error {
	if host != hostStateful {
		return nil
	}
	for _, r := range []route{a, b} {
		if err := loadRef(r.client.Name, hostTable); err != nil {
			return err
		}
	}
	return nil
}

// loadRef loads text into namespace ns with nft -f.
func loadRef(ns, text string) error {
	_, err := run(ns, text, "nft", "-f", "-")
	return err
}

// dropRef deletes the reference table from namespace ns.
func dropRef(ns string) error {
	_, err := run(ns, "", "nft", "delete", "table", "inet", refTable)
	return err
}
