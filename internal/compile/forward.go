package compile

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"

	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
)

// Forwarded traffic: the policies with hosts: or interfaces: judge the
// packets this host routes, in a base chain on the forward hook that
// dispatches by what the packet carries (docs/policy.md "Hosts and
// interfaces"):
//
//	chain forward { type filter hook forward priority filter - 10; policy accept;
//	    ether saddr vmap @forward_macs            # MAC -> its policy chain
//	    ip saddr vmap @forward_hosts4             # source address -> ... (a hash)
//	    ip6 saddr vmap @forward_hosts6
//	    ip saddr vmap @forward_nets4              # source prefix (the longest) -> ...
//	    ip6 saddr vmap @forward_nets6
//	    iifname vmap @forward_ifaces              # incoming interface name -> ...
//	    iifname vmap @forward_iface_patterns      # ... or pattern (veth*)
//	    accept                                    # hosts no policy names: not leash's to judge
//	}
//
// The policy chains are the same ones the output hook jumps to: the same
// rules, default, logging and counters. Each lookup is a hash (or for
// prefixes and patterns an rbtree): the per-packet cost does not grow with
// the number of hosts. The order is the precedence: a MAC first (a host
// that changes its address is still itself), then the source address,
// then the interface.
const (
	ChainForward            = "forward"
	MapForwardMACs          = "forward_macs"
	MapForwardHosts4        = "forward_hosts4"
	MapForwardHosts6        = "forward_hosts6"
	MapForwardNets4         = "forward_nets4"
	MapForwardNets6         = "forward_nets6"
	MapForwardIfaces        = "forward_ifaces"
	MapForwardIfacePatterns = "forward_iface_patterns"
	// ForwardPriority is the forward chain's priority: before the filter
	// chains of iptables-nft, Docker, libvirt, firewalld and ufw (0 and
	// +10). A drop in any base chain is final whatever the order; going
	// first means leash's counters and logs see every packet it judges,
	// before another table drops it.
	ForwardPriority = -10
)

// forward builds the forward base chain and its maps, or returns nil when
// no policy has forwarded-traffic subjects.
func (c *compiler) forward(r *policy.Resolved) *ruleset.Chain {
	var macs, names, patterns []ruleset.MapEntry
	var hosts [2][]hostClaim
	for i, p := range r.Policies {
		chain := ChainName(p.Name)
		for _, m := range p.MACs {
			macs = append(macs, textEntry(m, chain))
		}
		for _, n := range p.Interfaces {
			if _, pattern := ruleset.IfnamePattern(n); pattern {
				patterns = append(patterns, textEntry(n, chain))
			} else {
				names = append(names, textEntry(n, chain))
			}
		}
		for _, pfx := range p.SourceV4 {
			hosts[0] = append(hosts[0], hostClaim{pfx: pfx, rank: i, chain: chain})
		}
		for _, pfx := range p.SourceV6 {
			hosts[1] = append(hosts[1], hostClaim{pfx: pfx, rank: i, chain: chain})
		}
	}
	if len(macs)+len(names)+len(patterns)+len(hosts[0])+len(hosts[1]) == 0 {
		return nil
	}
	ch := &ruleset.Chain{Name: ChainForward, Hook: &ruleset.Hook{Hook: "forward", Priority: ForwardPriority}}
	add := func(m *ruleset.Map, id, text string) {
		if len(m.Entries) == 0 {
			return
		}
		if !m.Fields[0].Kind.IsAddr() {
			slices.SortFunc(m.Entries, func(a, b ruleset.MapEntry) int { return cmp.Compare(a.Values[0].Text, b.Values[0].Text) })
		}
		c.rs.Maps = append(c.rs.Maps, m)
		id = strings.Replace(id, "hosts", strings.TrimPrefix(m.Name, "forward_"), 1) // one id per lookup
		ch.Rules = append(ch.Rules, &ruleset.Rule{Verdict: ruleset.Verdict{Kind: ruleset.VMap, Map: m.Name},
			Origin: ruleset.Origin{ID: id, What: "dispatch", Text: text}})
	}
	add(&ruleset.Map{Name: MapForwardMACs, Fields: []ruleset.KeyField{{Kind: ruleset.KindEther}}, Entries: macs},
		"forward/macs", "hosts by MAC address -> their policy")
	// Single addresses in a hash first (a /32 or /128 is the longest
	// prefix), then the prefixes in an interval map.
	var singles, nets [2][]ruleset.MapEntry
	for fam := range hosts {
		singles[fam], nets[fam] = hostEntries(hosts[fam], 4+2*fam)
	}
	for fam, name := range []string{MapForwardHosts4, MapForwardHosts6} {
		add(&ruleset.Map{Name: name, Fields: []ruleset.KeyField{{Kind: famKind(fam), Source: true}}, Entries: singles[fam]},
			"forward/hosts", "hosts by source address -> their policy")
	}
	for fam, name := range []string{MapForwardNets4, MapForwardNets6} {
		add(&ruleset.Map{Name: name, Fields: []ruleset.KeyField{{Kind: famKind(fam), Source: true}}, Interval: true, Entries: nets[fam]},
			"forward/hosts", "hosts by source prefix (the longest) -> their policy")
	}
	add(&ruleset.Map{Name: MapForwardIfaces, Fields: []ruleset.KeyField{{Kind: ruleset.KindIfname}}, Entries: names},
		"forward/interfaces", "incoming interfaces -> their policy")
	add(&ruleset.Map{Name: MapForwardIfacePatterns, Fields: []ruleset.KeyField{{Kind: ruleset.KindIfname}}, Interval: true, Entries: patterns},
		"forward/interfaces", "incoming interfaces by pattern -> their policy")
	ch.Rules = append(ch.Rules, &ruleset.Rule{Verdict: ruleset.Verdict{Kind: ruleset.Accept},
		Origin: ruleset.Origin{ID: "forward/unlisted", What: "dispatch", Text: "forwarded traffic of hosts and interfaces no policy names is not restricted"}})
	return ch
}

func textEntry(text, chain string) ruleset.MapEntry {
	return ruleset.MapEntry{Values: []ruleset.KeyValue{{Text: text}}, Chain: chain}
}

// hostClaim is a policy's claim of a source prefix; rank is the policy's
// position in the file.
type hostClaim struct {
	pfx   netip.Prefix
	rank  int
	chain string
}

func famKind(i int) ruleset.SetKind {
	if i == 1 {
		return ruleset.KindIPv6
	}
	return ruleset.KindIPv4
}

// hostEntries resolves the claims of one family (fam 4 or 6) into map
// entries: the single addresses (looked up first), and the other prefixes
// made disjoint, the longest prefix winning, then the earlier policy
// (equal prefixes of two policies are refused by policy.Resolve).
func hostEntries(claims []hostClaim, fam int) (singles, nets []ruleset.MapEntry) {
	var rest []hostClaim
	for _, h := range claims {
		if h.pfx.IsSingleIP() {
			singles = append(singles, ruleset.MapEntry{Values: []ruleset.KeyValue{{Prefix: h.pfx}}, Chain: h.chain})
		} else {
			rest = append(rest, h)
		}
	}
	slices.SortFunc(singles, func(a, b ruleset.MapEntry) int { return a.Values[0].Prefix.Addr().Compare(b.Values[0].Prefix.Addr()) })
	claims = rest
	if len(claims) == 0 {
		return singles, nil
	}
	slices.SortStableFunc(claims, func(a, b hostClaim) int {
		if c := cmp.Compare(b.pfx.Bits(), a.pfx.Bits()); c != 0 {
			return c
		}
		return cmp.Compare(a.rank, b.rank)
	})
	chains := map[*atom]string{}
	segs := make([]addrSeg, len(claims))
	for i, h := range claims {
		a := &atom{idx: i}
		chains[a] = h.chain
		segs[i] = segOf(h.pfx, a)
	}
	segs = sortSegs(segs)
	if overlapping(segs) {
		segs = sweepAddrs(segs)
	}
	for _, sg := range segs {
		ps := []netip.Prefix{sg.p}
		if !sg.p.IsValid() {
			ps = ruleset.RangePrefixes(sg.lo.addr(fam), sg.hi.addr(fam))
		}
		for _, p := range ps {
			nets = append(nets, ruleset.MapEntry{Values: []ruleset.KeyValue{{Prefix: p}}, Chain: chains[sg.a]})
		}
	}
	return singles, nets
}

// viaRules are the rules of an allow rule limited to interfaces (`via`):
// one accept per interface, `oifname "wg0" MATCHES counter accept`. Such
// a rule never shadows a later one (covers), so a later deny still sees
// what leaves elsewhere.
func viaRules(via []string, m []ruleset.Match, o ruleset.Origin) []*ruleset.Rule {
	out := make([]*ruleset.Rule, 0, len(via))
	for _, name := range via {
		ms := append([]ruleset.Match{{Kind: ruleset.MatchOifname, Name: name}}, m...)
		out = append(out, &ruleset.Rule{Match: ms, Verdict: ruleset.Verdict{Kind: ruleset.Accept}, Origin: o})
	}
	return out
}
