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
		// The layouts a rule list can compile to (issue 16), 100,000 /24s,
		// the measured destination's /24 decided last:
		{"rules-1000", "1,000 rules `ip daddr & 255.255.255.0 @sK accept` of 100 /24s each (hash sets; leash's layout before), then drop", linearSets},
		{"rbtree-100k", "`ip daddr @allow accept; drop`, the /24s in one interval set (the expert's layout)", rbtreeSet},
		{"vmap24-100k", "`ip daddr & 255.255.255.0 vmap @m; drop`, hash map of the /24s' network addresses jumping to 1,000 rule chains (leash's layout)", maskedVmap},
		{"concat-100k", "`meta skuid != 100000 accept; ip daddr & 255.255.255.0 . meta l4proto . th dport vmap @m; drop`, hash concatenation of each /24 with udp 5001 and tcp 5002", concatHash(100_000)},
		{"concat-10k", "the same with 10,000 /24s", concatHash(10_000)},
		{"pipapo-10k", "the same rules, the 10,000 /24s' entries as intervals in an interval concatenation (pipapo; 100,000 take too long to load)", concatPipapo(10_000)},
	}
}

// ruleListDests are the reference rule lists' /24s: the benchmark's
// allowed ones and, last, the measured destinations'.
func ruleListDests() []netip.Prefix { return ruleListDestsN(100_000) }

// ruleListDestsN is ruleListDests with n /24s.
func ruleListDestsN(n int) []netip.Prefix {
	return append(benchpolicy.AllowPrefixes(n), benchpolicy.Measured...)
}

// outputTable wraps body (sets, maps, chains) and an output chain with
// rules in the reference table.
func outputTable(body, rules string) string {
	return fmt.Sprintf("table inet %s {\n%s chain output {\n  type filter hook output priority 0; policy accept;\n%s }\n}\n", refTable, body, rules)
}

func linearSets(uint32, int) string {
	const rules = 1000
	ds := benchpolicy.AllowPrefixes(100_000)
	var body, rs strings.Builder
	for k := range rules {
		var elems []string
		for i := k; i < len(ds); i += rules {
			elems = append(elems, ds[i].Addr().String())
		}
		if k == rules-1 { // the measured destinations: decided by the last rule
			for _, p := range benchpolicy.Measured {
				elems = append(elems, p.Addr().String())
			}
		}
		fmt.Fprintf(&body, " set s%d {\n  type ipv4_addr\n  elements = { %s }\n }\n", k, strings.Join(elems, ", "))
		fmt.Fprintf(&rs, "  ip daddr & 255.255.255.0 @s%d accept\n", k)
	}
	rs.WriteString("  drop\n")
	return outputTable(body.String(), rs.String())
}

func rbtreeSet(uint32, int) string {
	var b strings.Builder
	b.WriteString(" set allow {\n  type ipv4_addr\n  flags interval\n  elements = { ")
	for i, p := range ruleListDests() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p.String())
	}
	b.WriteString(" }\n }\n")
	return outputTable(b.String(), "  ip daddr @allow accept\n  drop\n")
}

// ruleChains are 1,000 chains that accept, one per rule.
func ruleChains() string {
	var b strings.Builder
	for k := range 1000 {
		fmt.Fprintf(&b, " chain r%d {\n  counter accept\n }\n", k)
	}
	return b.String()
}

func maskedVmap(uint32, int) string {
	var b strings.Builder
	b.WriteString(" map m {\n  type ipv4_addr : verdict\n  elements = { ")
	for i, p := range ruleListDests() {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s : jump r%d", p.Addr(), i%1000)
	}
	b.WriteString(" }\n }\n")
	return outputTable(b.String()+ruleChains(), "  ip daddr & 255.255.255.0 vmap @m\n  drop\n")
}

// The concatenation references let packets of other users (the
// listener's SYN-ACKs, owned by root, go to the client's port) pass first:
// their port is not in the map.

// concatEntries writes n /24s with udp 5001 and tcp 5002 as entries of a
// map keyed by ip daddr . meta l4proto . th dport; addr renders the /24.
func concatEntries(b *strings.Builder, n int, addr func(netip.Prefix) string) {
	for i, p := range ruleListDestsN(n) {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(b, "%s . udp . %d : jump r%d, %s . tcp . %d : jump r%d", addr(p), benchpolicy.UDPPort, i%1000,
			addr(p), benchpolicy.TCPPort, i%1000)
	}
}

func concatHash(n int) func(uint32, int) string {
	return func(uint32, int) string {
		var b strings.Builder
		b.WriteString(" map m {\n  type ipv4_addr . inet_proto . inet_service : verdict\n  elements = { ")
		concatEntries(&b, n, func(p netip.Prefix) string { return p.Addr().String() })
		b.WriteString(" }\n }\n")
		return outputTable(b.String()+ruleChains(), "  meta skuid != 100000 accept\n  ip daddr & 255.255.255.0 . meta l4proto . th dport vmap @m\n  drop\n")
	}
}

func concatPipapo(n int) func(uint32, int) string {
	return func(uint32, int) string {
		var b strings.Builder
		b.WriteString(" map m {\n  type ipv4_addr . inet_proto . inet_service : verdict\n  flags interval\n  elements = { ")
		concatEntries(&b, n, netip.Prefix.String)
		b.WriteString(" }\n }\n")
		return outputTable(b.String()+ruleChains(), "  meta skuid != 100000 accept\n  ip daddr . meta l4proto . th dport vmap @m\n  drop\n")
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

// loadHost loads host's firewall into every side's client namespace.
func loadHost(host string, sides ...route) error {
	if host != hostStateful {
		return nil
	}
	for _, r := range sides {
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
