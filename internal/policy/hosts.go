package policy

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/leash-dev/leash/internal/resolve"
	"github.com/leash-dev/leash/internal/ruleset"
	"go4.org/netipx"
)

// Subjects of forwarded traffic (docs/policy.md "Hosts and interfaces").
// Packets this host routes have no socket: `hosts:` names them by source
// address, CIDR or MAC address, `interfaces:` by the interface they come
// in on (a name such as br-lan, or a pattern such as veth*). A policy may
// have both kinds of subjects: `users: [alice]` with `interfaces:
// [tap-alice]` gives her sockets and the traffic of the interface she was
// handed the same policy.
//
// Within one policy, entries are merged. Across policies: a MAC, an exact
// prefix or an exact interface name belongs to one policy; overlapping
// prefixes are allowed (the longest prefix decides: a host in a LAN), an
// interface name inside another policy's pattern too (the name decides);
// overlapping patterns of two policies are refused.

// forwardList converts a `hosts`, `interfaces` or `via` list: strings (an
// unquoted MAC may come as a sexagesimal integer; its text is used).
func (p *parser) forwardList(n ast.Node, what, hint string) []*Scalar {
	list := p.list(n, what, hint)
	return slices.DeleteFunc(list, func(s *Scalar) bool {
		if s.Kind == KindString || s.Kind == KindInt {
			return false
		}
		p.errorf(s.Pos, "%s: %s is not a name or address; write e.g. %s", what, s.Raw, hint)
		return true
	})
}

// forwardClaims are the forward subjects claimed by earlier policies.
type forwardClaims struct {
	macs     map[string]forwardClaim
	prefixes map[netip.Prefix]forwardClaim
	names    map[string]forwardClaim
	patterns []patternClaim
}

type forwardClaim struct {
	policy string
	pos    Pos
}

type patternClaim struct {
	pattern string
	forwardClaim
}

// claim records that pol claims key in m, or reports the earlier claim.
func claimIn[K comparable](m *map[K]forwardClaim, key K, c forwardClaim) (forwardClaim, bool) {
	if *m == nil {
		*m = map[K]forwardClaim{}
	}
	if prev, ok := (*m)[key]; ok && prev.policy != c.policy {
		return prev, false
	}
	(*m)[key] = c
	return forwardClaim{}, true
}

// forwardSubjects resolves a policy's hosts and interfaces.
func (rv *resolver) forwardSubjects(pd *PolicyDecl, pol *ResolvedPolicy) {
	var v4, v6 netipx.IPSetBuilder
	var any4, any6 bool
	for _, s := range pd.Hosts {
		c := forwardClaim{policy: pol.Name, pos: s.Pos}
		addMAC := func(mac string) {
			if prev, ok := claimIn(&rv.fwd.macs, mac, c); !ok {
				rv.errorf(s.Pos, "hosts: MAC address %s is already a subject of policy %q (%s); a host belongs to one policy: remove one of them", mac, prev.policy, prev.pos)
				return
			}
			if !slices.Contains(pol.MACs, mac) {
				pol.MACs = append(pol.MACs, mac)
			}
		}
		if mac, isMAC, ok := rv.mac(s); isMAC {
			if ok {
				addMAC(mac)
			}
			continue
		}
		pfxs, mac, ok := rv.hostPrefixes(s)
		if !ok {
			continue
		}
		if mac != "" {
			addMAC(mac)
		}
		for _, pfx := range pfxs {
			if prev, ok := claimIn(&rv.fwd.prefixes, pfx, c); !ok {
				rv.errorf(s.Pos, "hosts: %s is already a subject of policy %q (%s); a host belongs to one policy: remove one of them (a longer prefix inside another policy's is fine: it decides)", pfx, prev.policy, prev.pos)
				continue
			}
			if pfx.Addr().Is4() {
				v4.AddPrefix(pfx)
				any4 = true
			} else {
				v6.AddPrefix(pfx)
				any6 = true
			}
		}
	}
	if any4 {
		s, _ := v4.IPSet()
		pol.SourceV4 = s.Prefixes()
	}
	if any6 {
		s, _ := v6.IPSet()
		pol.SourceV6 = s.Prefixes()
	}
	slices.Sort(pol.MACs)
	for _, s := range pd.Interfaces {
		name := s.Value
		if err := ruleset.ValidIfname(name, true); err != nil {
			rv.errorf(s.Pos, "interfaces: %v; write a name such as br-lan or a pattern such as veth*", err)
			continue
		}
		if slices.Contains(pol.Interfaces, name) {
			continue
		}
		c := forwardClaim{policy: pol.Name, pos: s.Pos}
		if _, pattern := ruleset.IfnamePattern(name); !pattern {
			if prev, ok := claimIn(&rv.fwd.names, name, c); !ok {
				rv.errorf(s.Pos, "interfaces: %s is already a subject of policy %q (%s); an interface belongs to one policy: remove one of them", name, prev.policy, prev.pos)
				continue
			}
			pol.Interfaces = append(pol.Interfaces, name)
			continue
		}
		if prev, ok := rv.fwd.overlap(name, pol.Name); ok {
			rv.errorf(s.Pos, "interfaces: pattern %s overlaps %s of policy %q (%s): an interface would belong to two policies; name the interfaces of one of them instead", name, prev.pattern, prev.policy, prev.pos)
			continue
		}
		rv.fwd.patterns = append(rv.fwd.patterns, patternClaim{pattern: name, forwardClaim: c})
		pol.Interfaces = append(pol.Interfaces, name)
	}
	pol.Interfaces = mergePatterns(pol.Interfaces)
}

// overlap finds a pattern of another policy that shares a name with pattern.
func (fc *forwardClaims) overlap(pattern, pol string) (patternClaim, bool) {
	p, _ := ruleset.IfnamePattern(pattern)
	for _, c := range fc.patterns {
		q, _ := ruleset.IfnamePattern(c.pattern)
		if c.policy != pol && (strings.HasPrefix(p, q) || strings.HasPrefix(q, p)) {
			return c, true
		}
	}
	return patternClaim{}, false
}

// mergePatterns sorts a policy's interfaces and drops the names and
// patterns its own patterns already cover (their intervals must be
// disjoint in the kernel's map).
func mergePatterns(list []string) []string {
	slices.Sort(list)
	var out []string
	for _, s := range list {
		covered := false
		for _, t := range list {
			tp, tpat := ruleset.IfnamePattern(t)
			if t != s && tpat && strings.HasPrefix(strings.TrimSuffix(s, "*"), tp) {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, s)
		}
	}
	return out
}

// mac reads a hosts entry as a MAC address (six bytes: 02:00:00:00:00:01
// or 02-00-00-00-00-01), canonical lower case. isMAC is false when the
// entry is no MAC; ok is false (an error recorded) for a multicast one.
func (rv *resolver) mac(s *Scalar) (mac string, isMAC, ok bool) {
	hw, err := net.ParseMAC(s.Value)
	if err != nil || len(hw) != 6 {
		return "", false, false
	}
	if hw[0]&1 != 0 {
		rv.errorf(s.Pos, "hosts: %s is a multicast MAC address, never the source of a packet; write the host's own address", s.Raw)
		return "", true, false
	}
	return hw.String(), true, true
}

// hostPrefixes reads a hosts entry as an address, a CIDR, or a name in
// the hosts file (/etc/hosts) and the ethers file (/etc/ethers; never DNS:
// a forwarded packet's subject must not be what a DNS server says), whose
// every address it claims, and its MAC address when ethers gives one. A
// name is looked up when the policy is loaded: `leash reapply` after those
// files change.
func (rv *resolver) hostPrefixes(s *Scalar) (pfxs []netip.Prefix, mac string, ok bool) {
	v := s.Value
	if strings.ContainsAny(v, "/:") || looksNumeric(v) {
		p, ok := rv.hostPrefix(s)
		return []netip.Prefix{p}, "", ok
	}
	hf, ok := rv.env.Resolver.(resolve.HostsFile)
	if !ok || hostnameProblem(v) != "" {
		_, ok := rv.hostPrefix(s) // the error
		return nil, "", ok
	}
	addrs, err := hf.LookupHostsFile(v)
	if err == nil {
		if ef, ok := rv.env.Resolver.(resolve.Ethers); ok {
			mac, err = ef.LookupEthers(v)
		}
	}
	switch {
	case err != nil:
		rv.errorf(s.Pos, "hosts: %s: %v", s.Raw, err)
		return nil, "", false
	case len(addrs) == 0 && mac == "":
		rv.errorf(s.Pos, "hosts: %s is neither in the hosts file (/etc/hosts) nor in /etc/ethers; add it there, or write its address, CIDR or MAC address (names are never looked up in DNS: a forwarded packet carries only its address)", s.Raw)
		return nil, "", false
	}
	out := make([]netip.Prefix, len(addrs))
	for i, a := range addrs {
		out[i] = netip.PrefixFrom(a, a.BitLen())
	}
	return out, mac, true
}

// hostPrefix reads a hosts entry as an address or a CIDR, as `to`
// entries are read (parseCIDR, parseAddr).
func (rv *resolver) hostPrefix(s *Scalar) (netip.Prefix, bool) {
	parse := parseAddr
	if strings.Contains(s.Value, "/") {
		parse = parseCIDR
	}
	kind, p, msg := parse(s.Value)
	if kind != toBad {
		return p, true
	}
	if a, err := netip.ParseAddr(s.Value); err == nil && a.Zone() != "" {
		msg = fmt.Sprintf("%s has a zone; write the address without %%%s, and interfaces: [%s] for the interface", s.Raw, a.Zone(), a.Zone())
	}
	rv.errorf(s.Pos, "hosts: %s", msg)
	return netip.Prefix{}, false
}

// via resolves a rule's `via`: interface names or patterns, allow rules
// only. A deny limited to one interface would leave the same traffic
// allowed through every other one: refused.
func (rv *resolver) via(rd *RuleDecl) []string {
	if len(rd.Via) == 0 {
		return nil
	}
	if rd.Action != Allow {
		rv.errorf(rd.ViaPos, "via is for allow rules only: a %s limited to one interface leaves the same traffic allowed through every other one; drop via to %s everywhere, or write `allow: {..., via: [%s]}` above a %s without via", rd.Action, rd.Action, rd.Via[0].Value, rd.Action)
		return nil
	}
	var out []string
	for _, s := range rd.Via {
		if err := ruleset.ValidIfname(s.Value, true); err != nil {
			rv.errorf(s.Pos, "via: %v; write an interface name such as wg0 or a pattern such as wg*", err)
			continue
		}
		if !slices.Contains(out, s.Value) {
			out = append(out, s.Value)
		}
	}
	return mergePatterns(out)
}
