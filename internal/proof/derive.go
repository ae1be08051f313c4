package proof

import (
	"fmt"
	"net/netip"

	"github.com/leash-dev/leash/internal/identity"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
)

// Addresses of derived probes that should fall through to a policy's
// default: documentation ranges (TEST-NET-3, 2001:db8::/32).
var (
	elsewhere4 = netip.MustParseAddr("203.0.113.99")
	elsewhere6 = netip.MustParseAddr("2001:db8:ffff::99")
)

// defaultPort is the port of derived probes that should reach the default.
const defaultPort = 4444

// Derive makes probes from the policy itself, for a file without tests:
// for every policy, its subjects (a named user; for a group a primary
// member, a supplementary member and a socket with only the group's gid;
// for everyone a uid no policy names), times one probe per rule, address
// family and protocol, plus TCP, UDP and ping probes elsewhere that reach
// the policy's default. Derived probes have no expectation: they prove that
// the kernel does what leash check says.
func Derive(res *policy.Resolved, dir *identity.Directory) []Case {
	var out []Case
	for _, p := range res.Policies {
		for _, id := range subjects(res, p, dir) {
			for _, r := range p.Rules {
				out = append(out, ruleProbes(p, r, id)...)
			}
			out = append(out, defaultProbes(p, id)...)
		}
	}
	return out
}

func subjects(res *policy.Resolved, p *policy.ResolvedPolicy, dir *identity.Directory) []policy.Identity {
	var ids []policy.Identity
	if len(p.UIDs) > 0 {
		ids = append(ids, uidIdentity(dir, p.UIDs[0].Lo, "named user"))
	}
	for _, gid := range p.GIDs {
		ids = append(ids, groupIdentities(dir, gid, unnamedUID(res))...)
		break // one group per policy keeps the probe count bounded
	}
	if p.Everyone {
		uid := unnamedUID(res)
		ids = append(ids, policy.Identity{UID: uid, GID: uid, Desc: fmt.Sprintf("uid %d (no policy names it)", uid)})
	}
	if len(p.Cgroups) > 0 {
		// A program of the policy's first cgroup, as a uid no policy names:
		// judged by this policy only because programs come before users.
		uid, c := unnamedUID(res), p.Cgroups[0].Path
		ids = append(ids, policy.Identity{UID: uid, GID: uid, Cgroup: c, Desc: fmt.Sprintf("cgroup %s as uid %d", c, uid)})
	}
	return ids
}

func uidIdentity(dir *identity.Directory, uid uint32, why string) policy.Identity {
	u, ok := dir.UserByUID(uid)
	if !ok {
		return policy.Identity{UID: uid, GID: uid, Desc: fmt.Sprintf("uid %d (%s)", uid, why)}
	}
	id := policy.Identity{Name: u.Name, UID: u.UID, GID: u.GID, Desc: fmt.Sprintf("%s (%s)", u.Name, why)}
	if _, all, ok := dir.GroupsOf(uid); ok {
		for _, g := range all {
			if g != u.GID {
				id.Groups = append(id.Groups, g)
			}
		}
	}
	return id
}

// groupIdentities: a primary member, a supplementary member, and a process
// whose uid no policy names but whose gid is the group's.
func groupIdentities(dir *identity.Directory, gid, spare uint32) []policy.Identity {
	var ids []policy.Identity
	var primary, supp bool
	for _, uid := range dir.MemberUIDs(gid) {
		u, ok := dir.UserByUID(uid)
		if !ok {
			continue
		}
		if u.GID == gid && !primary {
			primary = true
			ids = append(ids, uidIdentity(dir, uid, fmt.Sprintf("primary member of gid %d", gid)))
		}
		if u.GID != gid && !supp {
			supp = true
			ids = append(ids, uidIdentity(dir, uid, fmt.Sprintf("supplementary member of gid %d", gid)))
		}
	}
	return append(ids, policy.Identity{UID: spare, GID: gid, Desc: fmt.Sprintf("uid %d with socket gid %d", spare, gid)})
}

// unnamedUID is a uid no policy names, directly or as a group member.
func unnamedUID(res *policy.Resolved) uint32 {
	for uid := uint32(60000); uid < 65000; uid++ {
		if !named(res, uid) {
			return uid
		}
	}
	return 65000
}

func named(res *policy.Resolved, uid uint32) bool {
	for _, p := range res.Policies {
		for _, r := range append(append([]ruleset.Range(nil), p.UIDs...), p.MemberUIDs...) {
			if r.Contains(uid) {
				return true
			}
		}
	}
	return false
}

// ruleProbes makes one probe per address family and protocol of rule r.
func ruleProbes(p *policy.ResolvedPolicy, r *policy.ResolvedRule, id policy.Identity) []Case {
	var out []Case
	for _, a := range ruleAddrs(r.To) {
		for _, t := range ruleTargets(r.Protos, a) {
			out = append(out, Case{Source: fmt.Sprintf("derived from %s rule %d: %s", p.Name, r.Index, r.Text),
				Pos: r.Pos, As: id, Target: t, Addr: a})
		}
	}
	return out
}

// ruleAddrs picks one address inside the rule's destinations per family.
func ruleAddrs(to *policy.Destinations) []netip.Addr {
	if to == nil {
		return []netip.Addr{netip.MustParseAddr("203.0.113.7"), netip.MustParseAddr("2001:db8:ffff::7")}
	}
	var out []netip.Addr
	for _, ps := range [][]netip.Prefix{to.V4, to.V6} {
		if len(ps) > 0 {
			out = append(out, inside(ps[0]))
		}
	}
	return out
}

// inside is an address in p that is not its network address when p has room.
func inside(p netip.Prefix) netip.Addr {
	if p.Bits() < p.Addr().BitLen()-1 {
		return p.Addr().Next()
	}
	return p.Addr()
}

// ruleTargets picks one port per protocol of the rule; pings only for
// protocols that allow echo requests (a ping socket sends nothing else).
func ruleTargets(protos []policy.ProtoSpec, a netip.Addr) []policy.Target {
	if protos == nil {
		return []policy.Target{{Host: a.String(), Port: 443, Proto: "tcp"}, {Host: a.String(), Proto: "icmp"}}
	}
	var out []policy.Target
	for _, ps := range protos {
		switch ps.Proto {
		case ruleset.ProtoTCP, ruleset.ProtoUDP:
			port := uint16(443)
			if len(ps.Ports) > 0 {
				port = uint16(ps.Ports[0].Lo)
			}
			out = append(out, policy.Target{Host: a.String(), Port: port, Proto: ruleset.ProtoName(ps.Proto)})
		case ruleset.ProtoICMP, ruleset.ProtoICMPv6:
			echo := uint32(8)
			if ps.Proto == ruleset.ProtoICMPv6 {
				echo = 128
			}
			if (ps.Proto == ruleset.ProtoICMP) == a.Is4() && coversType(ps.Types, echo) {
				out = append(out, policy.Target{Host: a.String(), Proto: "icmp"})
			}
		}
	}
	return out
}

func coversType(types []ruleset.Range, t uint32) bool {
	if types == nil {
		return true
	}
	for _, r := range types {
		if r.Contains(t) {
			return true
		}
	}
	return false
}

func defaultProbes(p *policy.ResolvedPolicy, id policy.Identity) []Case {
	var out []Case
	for _, a := range []netip.Addr{elsewhere4, elsewhere6} {
		for _, t := range []policy.Target{
			{Host: a.String(), Port: defaultPort, Proto: "tcp"},
			{Host: a.String(), Port: defaultPort, Proto: "udp"},
			{Host: a.String(), Proto: "icmp"},
		} {
			out = append(out, Case{Source: fmt.Sprintf("derived: %s elsewhere (default: %s)", p.Name, p.Default),
				Pos: p.DefaultPos, As: id, Target: t, Addr: a})
		}
	}
	return out
}
