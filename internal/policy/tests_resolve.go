package policy

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/leash-dev/leash/internal/decimal"
	"github.com/leash-dev/leash/internal/identity"
)

// Identity is who a test case or probe runs as: a real process gets exactly
// these credentials.
type Identity struct {
	Name   string   `json:"name,omitempty"`
	UID    uint32   `json:"uid"`
	GID    uint32   `json:"gid"`
	Groups []uint32 `json:"groups,omitempty"` // supplementary groups
	// Desc says how the identity was chosen, e.g. "bob (member of supporters)".
	Desc string `json:"desc"`
	// Cgroup is the program's cgroup path (`as: {unit: ...}` or
	// `{cgroup: ...}`), "" for a process in no governed cgroup.
	Cgroup string `json:"cgroup,omitempty"`
}

// TestCase is one case of the tests section, resolved for this host.
type TestCase struct {
	Pos    Pos          `json:"pos"`
	Text   string       `json:"text"`
	As     Identity     `json:"as"`
	Target Target       `json:"target"`
	Addrs  []netip.Addr `json:"addrs,omitempty"`
	Expect Action       `json:"expect"`
	// Inbound: the case is a connection made to As's server on Target's
	// port and protocol (serve:), from wherever the prover's peer is; Addrs
	// is empty, the prover knows the addresses.
	Inbound bool `json:"inbound,omitempty"`
	// At is when the connection is opened (the case's `at:`), zero for now.
	At time.Time `json:"at,omitempty"`
	// Err says why the case cannot run here (a user that does not exist, a
	// host that does not resolve); such a case fails with this message.
	Err string `json:"error,omitempty"`
	// From: a forwarded connection from this LAN host (instead of As).
	From *Sender `json:"from,omitempty"`
}

// ResolveTests resolves the cases of f's tests section: users and groups
// against env.Directory, hosts with env.Resolver (in `leash test`, the
// sandbox's DNS). Problems specific to this host do not fail the call: they
// land in the case's Err, so one missing user fails one case.
func ResolveTests(ctx context.Context, f *File, env Env) []*TestCase {
	if f.Tests == nil {
		return nil
	}
	var out []*TestCase
	for _, c := range f.Tests.Cases {
		if (c.As == nil && c.From == nil) || (c.Connect == nil) == (c.Serve == nil) || c.Expect == nil || (c.From != nil && c.Serve != nil) {
			continue // Parse reported it
		}
		tc := &TestCase{Pos: c.Pos, Text: c.Text, Expect: Action(c.Expect.Value), Inbound: c.Serve != nil}
		var err error
		if c.At != nil {
			tc.At, err = ParseAt(c.At.Value, env.Zone)
		}
		switch {
		case err != nil: // a bad at:
		case c.From != nil:
			tc.From, err = senderOf(c.From)
			if err == nil {
				tc.As = Identity{Desc: "forwarded from " + tc.From.String()}
				tc.Target, tc.Addrs, err = targetAddrs(ctx, env, c.Connect.Value)
			}
		default:
			if tc.As, err = identityOf(env.Directory, c.As); err == nil {
				if tc.Inbound {
					tc.Target, err = ParseServed(c.Serve.Value, env.Services)
				} else {
					tc.Target, tc.Addrs, err = targetAddrs(ctx, env, c.Connect.Value)
				}
			}
		}
		if err != nil {
			tc.Err = err.Error()
		}
		out = append(out, tc)
	}
	return out
}

// idNumber parses a test case's uid or gid: plain decimal, 0 to maxID.
func idNumber(s *Scalar) (uint64, error) {
	v, err := decimal.Parse(s.Value)
	switch {
	case decimal.Spelling(err):
		return 0, err
	case err != nil || v > maxID:
		return 0, fmt.Errorf("out of range; ids go from 0 to %d", uint64(maxID))
	}
	return v, nil
}

func identityOf(dir *identity.Directory, a *AsDecl) (Identity, error) {
	if a.Unit != nil || a.Cgroup != nil {
		return programIdentity(dir, a)
	}
	switch {
	case a.UID != nil && a.Group != nil:
		g, ok := dir.Group(a.Group.Value)
		if !ok {
			return Identity{}, fmt.Errorf("group %q does not exist on this host (getent group %s)", a.Group.Value, a.Group.Value)
		}
		uid, err := idNumber(a.UID)
		if err != nil {
			return Identity{}, fmt.Errorf("uid %s: %w", a.UID.Raw, err)
		}
		return Identity{UID: uint32(uid), GID: g.GID, Desc: fmt.Sprintf("uid %d with socket group %s", uid, g.Name)}, nil
	case a.Group != nil:
		return groupMember(dir, a.Group.Value)
	case a.UID != nil:
		uid, err := idNumber(a.UID)
		if err != nil {
			return Identity{}, fmt.Errorf("uid %s: %w", a.UID.Raw, err)
		}
		if u, ok := dir.UserByUID(uint32(uid)); ok && a.GID == nil {
			return userIdentity(dir, u, u.Name), nil
		}
		if a.GID == nil {
			return Identity{}, fmt.Errorf("uid %d has no passwd entry on this host; give its group too: {uid: %d, gid: N}", uid, uid)
		}
		gid, err := idNumber(a.GID)
		if err != nil {
			return Identity{}, fmt.Errorf("gid %s: %w", a.GID.Raw, err)
		}
		return Identity{UID: uint32(uid), GID: uint32(gid), Desc: fmt.Sprintf("uid %d gid %d", uid, gid)}, nil
	}
	u, ok := dir.User(a.User.Value)
	if !ok {
		return Identity{}, fmt.Errorf("user %q does not exist on this host (getent passwd %s); create it, or give leash test a user database with --passwd and --group", a.User.Value, a.User.Value)
	}
	return userIdentity(dir, u, u.Name), nil
}

// groupMember picks a member of the group: the first user whose primary group
// it is, else the first supplementary member.
func groupMember(dir *identity.Directory, name string) (Identity, error) {
	g, ok := dir.Group(name)
	if !ok {
		return Identity{}, fmt.Errorf("group %q does not exist on this host (getent group %s)", name, name)
	}
	var supp []identity.User
	for _, uid := range dir.MemberUIDs(g.GID) {
		u, ok := dir.UserByUID(uid)
		switch {
		case !ok:
		case u.GID == g.GID:
			return userIdentity(dir, u, fmt.Sprintf("%s (primary member of %s)", u.Name, name)), nil
		default:
			supp = append(supp, u)
		}
	}
	if len(supp) == 0 {
		return Identity{}, fmt.Errorf("group %q has no members on this host to run as", name)
	}
	return userIdentity(dir, supp[0], fmt.Sprintf("%s (member of %s)", supp[0].Name, name)), nil
}

func userIdentity(dir *identity.Directory, u identity.User, desc string) Identity {
	id := Identity{Name: u.Name, UID: u.UID, GID: u.GID, Desc: desc}
	if _, all, ok := dir.GroupsOf(u.UID); ok {
		for _, g := range all {
			if g != u.GID {
				id.Groups = append(id.Groups, g)
			}
		}
	}
	return id
}

func targetAddrs(ctx context.Context, env Env, connect string) (Target, []netip.Addr, error) {
	t, err := ParseTarget(connect, env.Services)
	if err != nil {
		return t, nil, err
	}
	if a, err := netip.ParseAddr(t.Host); err == nil {
		return t, []netip.Addr{a.Unmap()}, nil
	}
	res := lookup(ctx, env.Resolver, t.Host)
	if res.err != nil {
		return t, nil, fmt.Errorf("cannot resolve %s: %w", t.Host, res.err)
	}
	return t, res.addrs, nil
}

// Hostnames lists, sorted and unique, every hostname the file's
// destinations and test cases name: what a sandbox's DNS must answer.
func Hostnames(f *File) []string {
	rv := listResolver(f)
	var names []string
	for _, e := range rv.allDestinations() {
		if kind, _, _ := rv.classify(e.Value); kind == toHost {
			names = append(names, hostKey(e.Value))
		}
	}
	if f.Tests != nil {
		for _, c := range f.Tests.Cases {
			if c.Connect == nil {
				continue
			}
			if t, err := ParseTarget(c.Connect.Value, nil); err == nil {
				if _, err := netip.ParseAddr(t.Host); err != nil {
					names = append(names, hostKey(t.Host))
				}
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// TestHosts returns the addresses the sandbox's DNS gives every hostname of
// f: those of the tests section's hosts map, and for any other name a pair
// of documentation addresses (192.0.2.N and 2001:db8::N, N from 10 up in
// name order). Bad addresses in the map are reported as errors.
func TestHosts(f *File) (map[string][]netip.Addr, error) {
	out := map[string][]netip.Addr{}
	var errs ErrorList
	if f.Tests != nil {
		for _, h := range f.Tests.Hosts {
			for _, s := range h.Addrs {
				a, err := netip.ParseAddr(s.Value)
				if err != nil {
					errs = append(errs, &Error{Pos: s.Pos, Msg: fmt.Sprintf("tests: hosts: %s: %q is not an IP address", h.Name, s.Value)})
					continue
				}
				out[hostKey(h.Name)] = append(out[hostKey(h.Name)], a.Unmap())
			}
		}
	}
	n := 10
	for _, name := range Hostnames(f) {
		if _, ok := out[name]; ok {
			continue
		}
		out[name] = []netip.Addr{netip.AddrFrom4([4]byte{192, 0, 2, byte(n)}),
			netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(n >> 8), 15: byte(n)})}
		n++
	}
	if len(errs) > 0 {
		errs.Sort()
		return nil, errs
	}
	return out, nil
}
