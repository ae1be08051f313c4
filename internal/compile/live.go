package compile

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"time"

	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
)

// LiveOptions shape the live sets HostSets makes.
type LiveOptions struct {
	// Timeout is the sets' default element timeout (0: none), e.g. the
	// longest TTL plus a grace period.
	Timeout time.Duration
	// Size caps each set (0: the kernel's default).
	Size uint32
	// Counters makes each address count its packets.
	Counters bool
}

// HostSets makes the hostname addresses of a rule's destinations live
// sets, one per hostname and address family that has addresses, fed by
// Source "host:NAME" (ruleset.SourceHost) and holding the addresses the
// name resolved to (r.Hosts), so that the daemon can refresh each name's
// addresses alone by TTL (ruleset.ElementOp on the sets of that source).
// Compile emits these sets (with zero LiveOptions) for every rule that
// names a hostname. Sets are named HostSetName(family, name).
func HostSets(r *policy.Resolved, to *policy.Destinations, opt LiveOptions) []*ruleset.Set {
	if to == nil {
		return nil
	}
	var out []*ruleset.Set
	for _, name := range to.Hosts {
		for _, v := range []int{4, 6} {
			if s := hostSet(v, name, r.Hosts[name], opt); s != nil {
				out = append(out, s)
			}
		}
	}
	return out
}

// hostSet is the live set of hostname name's family-v addresses among
// addrs, nil when it has none there.
func hostSet(v int, name string, addrs []netip.Addr, opt LiveOptions) *ruleset.Set {
	kind := ruleset.KindIPv4
	if v == 6 {
		kind = ruleset.KindIPv6
	}
	var elems []ruleset.Element
	for _, a := range addrs {
		if a = a.Unmap(); a.Is4() == (v == 4) {
			elems = append(elems, ruleset.Element{Addr: a.WithZone("")})
		}
	}
	if len(elems) == 0 {
		return nil
	}
	s := &ruleset.Set{Name: HostSetName(v, name), Kind: kind,
		Live: &ruleset.Live{Timeout: opt.Timeout, Size: opt.Size, Counters: opt.Counters, Source: ruleset.SourceHost(name)}}
	s.SetElements(elems)
	return s
}

// hostSet adds the live set of hostname name's family-v addresses on first
// use and returns its name; "" when the name has no address there (the
// rule then matches nothing of that family for it, as before).
//
// The set has no timeout, so the table works as compiled without the
// daemon: the addresses resolved at apply stay until the next apply, or
// until the daemon's refresher (internal/hostrefresh) replaces them by
// what DNS says now. nft equivalent of the set and of a rule using it:
//
//	set host4_mail.example.com { type ipv4_addr; comment "host:mail.example.com"; elements = { 192.0.2.25 } }
//	ip daddr @host4_mail.example.com meta l4proto tcp th dport @mail_r1_tcp accept
//
// Per packet, a hostname costs one hash lookup per rule naming it: rules
// naming hostnames are kernel rules of their own (their addresses change
// under the table, so first match between them and other rules is left to
// the kernel's rule order rather than resolved at compile time).
func (c *compiler) hostSet(v int, name string) string {
	set := HostSetName(v, name)
	if c.liveSets[set] {
		return set
	}
	s := hostSet(v, name, c.hosts[name], LiveOptions{})
	if s == nil {
		return ""
	}
	c.liveSets[set] = true
	c.rs.Sets = append(c.rs.Sets, s)
	return set
}

// HostSetName names the live set of hostname name's family-v addresses:
// "host4_mail.example.com"; a name too long for a set name is shortened
// to its first characters and a hash.
func HostSetName(v int, name string) string {
	n := fmt.Sprintf("host%d_%s", v, name)
	if len(n) <= ruleset.MaxNameLen {
		return n
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	return fmt.Sprintf("%s_%016x", n[:ruleset.MaxNameLen-17], h.Sum64())
}
