// Package eval answers "what would the kernel do with this packet?" by
// interpreting a compiled ruleset exactly as nftables walks it: chains in
// order, first terminal verdict wins, verdict maps dispatch by uid/gid,
// jump returns and goto does not, and a base chain falls through to its
// accept policy. It is pure: `leash check` and `leash test` use it to explain
// verdicts, and the kernel tests prove it agrees with the kernel.
package eval

import (
	"fmt"
	"net/netip"
	"sort"
	"time"

	"github.com/leash-dev/leash/internal/ruleset"
)

// Packet is the part of a packet leash's rules look at.
type Packet struct {
	// Hook is where the packet is judged: "output" (the zero value means
	// output: packets of this host's sockets) or "forward".
	Hook string
	// Owned is false for packets without an owning socket; UID and GID are
	// then meaningless.
	Owned bool
	// Orphan marks an ownerless packet of a closed socket that still drains
	// (data queued before close(), its FIN, retransmissions): the kernel
	// has no owner for it (`meta skuid` does not match) but it is still a
	// full socket, so `socket cgroupv2` matches its cgroup (Cgroup).
	Orphan   bool
	UID, GID uint32
	Daddr    netip.Addr
	Proto    uint8  // IP protocol number (ruleset.ProtoTCP, ...)
	Dport    uint16 // TCP/UDP destination port
	ICMPType uint8  // ICMP/ICMPv6 type
	// Mark is the packet's mark (its socket's SO_MARK).
	Mark uint32
	// Loopback: the packet leaves through lo (its destination is this host).
	Loopback bool
	// CtReply: the packet answers a connection opened towards this host.
	CtReply bool
	// CtEstablished: conntrack knows the connection (established or related).
	CtEstablished bool
	// RoutingHeader: an IPv6 packet with a routing header (segment
	// routing), set by the socket.
	RoutingHeader bool
	// SourceRoute: the IPv4 source route option the socket set
	// (ruleset.OptLSRR or OptSSRR), 0 for none.
	SourceRoute uint8
	// Forwarded traffic (forward.go): the source address, the source MAC
	// ("" when the packet did not come in on an Ethernet device), the
	// interfaces it comes in on and leaves through ("" if none).
	Saddr      netip.Addr
	EtherSaddr string
	Iifname    string
	Oifname    string
	// Cgroup is the ids of the socket's cgroup and its ancestors by level:
	// Cgroup[0] the cgroup2 root, Cgroup[L] the ancestor at level L (nil:
	// the socket's cgroup is the root, or unknown).
	Cgroup []uint64
	// At is when the packet is sent, for time windows (`meta time`); the
	// zero time is before every window.
	At time.Time
	// CtMark is the connection's conntrack mark (0 for a new connection);
	// MPTCPJoin: a TCP segment with an MPTCP MP_JOIN option (the opening
	// of an extra subflow). See ruleset.MatchCtMark, MatchMPTCPJoin.
	CtMark    uint32
	MPTCPJoin bool
	// OverLimit judges the packet as one beyond every rate limit and
	// connection count it meets (MatchLimit, MatchMeter); false judges it
	// within them.
	OverLimit bool
}

// Result is the verdict for a packet and why.
type Result struct {
	// Verdict is the terminal verdict taken (accept, drop, reject-...), or
	// accept with Rule == nil when the packet fell through the base chain.
	Verdict ruleset.Verdict
	// Rule is the rule that decided, nil for the base chain's policy.
	Rule *ruleset.Rule
	// Chain is the chain holding Rule.
	Chain string
	// Path lists the chains the packet went through, in order.
	Path []string
	// Logged is the NFLOG prefix of the log rule the packet passed before
	// the verdict ("" if none): the denial is logged, within the rate limit.
	Logged string
	// Closed is the first rule passed over only because its time window
	// (`meta time`) is closed at pkt.At: it would have decided the packet
	// (with ClosedVerdict) had the window been open. Nil if none.
	Closed        *ruleset.Rule
	ClosedVerdict ruleset.Verdict
}

// Allowed reports whether the packet gets through leash's table.
func (r Result) Allowed() bool { return r.Verdict.Allows() }

// maxDepth bounds chain nesting, like the kernel's NFT_JUMP_STACK_SIZE.
const maxDepth = 16

// Evaluate runs pkt through rs's base chains on pkt's hook (output by
// default), in priority order, as the kernel does: a drop or reject in any
// of them is final, an accept ends only that chain and the packet goes on to
// the next; a packet no base chain decides is accepted by their policy.
// Result names the last decision.
func Evaluate(rs *ruleset.Ruleset, pkt Packet) (Result, error) {
	hook := pkt.Hook
	if hook == "" {
		hook = "output"
	}
	res := Result{Verdict: ruleset.Verdict{Kind: ruleset.Accept}}
	ix := ruleset.NewIndex(rs)
	for _, base := range baseChains(rs, hook) {
		one := Result{}
		done, err := walk(ix, base, pkt, &one, 0) // per-rule lookups by hash
		if err != nil {
			return Result{}, err
		}
		if !done {
			one.Verdict = ruleset.Verdict{Kind: ruleset.Accept} // base chain policy accept
			one.Rule, one.Chain = nil, base.Name
		}
		one.Path = append(res.Path, one.Path...)
		if res.Rule != nil && one.Verdict.Allows() {
			// A later chain that lets the packet on (the orphan tag's
			// chain) does not change what decided it.
			res.Path = one.Path
			continue
		}
		if one.Logged == "" {
			one.Logged = res.Logged
		}
		res = one
		if !res.Verdict.Allows() {
			break
		}
	}
	return res, nil
}

// baseChains are rs's base chains on hook, by priority (stable: equal
// priorities keep the table's order, as the kernel keeps insertion order).
func baseChains(rs *ruleset.Ruleset, hook string) []*ruleset.Chain {
	var out []*ruleset.Chain
	for _, c := range rs.Chains {
		if c.Hook != nil && c.Hook.Hook == hook {
			out = append(out, c)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Hook.Priority < out[j].Hook.Priority })
	return out
}

// walk evaluates chain c; it reports done when a terminal verdict was taken.
func walk(rs ruleset.Lookup, c *ruleset.Chain, pkt Packet, res *Result, depth int) (bool, error) {
	if depth > maxDepth {
		return false, fmt.Errorf("eval: chains nested deeper than %d at %s", maxDepth, c.Name)
	}
	res.Path = append(res.Path, c.Name)
	for _, r := range c.Rules {
		ok, err := matches(rs, r.Match, pkt)
		if err != nil {
			return false, fmt.Errorf("eval: chain %s rule %q: %w", c.Name, r.Origin.ID, err)
		}
		if !ok {
			if res.Closed == nil {
				if err := closedWindow(rs, r, pkt, res, depth); err != nil {
					return false, err
				}
			}
			continue
		}
		target, jump, entry, err := target(rs, r.Verdict, pkt)
		if err != nil {
			return false, fmt.Errorf("eval: chain %s rule %q: %w", c.Name, r.Origin.ID, err)
		}
		switch {
		case entry != nil: // a map entry that carries its rule's verdict
			res.Verdict, res.Rule, res.Chain = entry.Verdict, entry, c.Name
			return true, nil
		case r.Verdict.Kind == ruleset.Log && r.Verdict.Log != nil:
			res.Logged = r.Verdict.Log.Prefix
		case r.Verdict.Terminal():
			res.Verdict, res.Rule, res.Chain = r.Verdict, r, c.Name
			return true, nil
		case target != nil:
			done, err := walk(rs, target, pkt, res, depth+1)
			if done || err != nil || !jump {
				return done, err // goto never returns to this chain
			}
		}
	}
	return false, nil
}

// target resolves the chain a jump, goto or vmap verdict leads to (nil when a
// vmap has no entry for the packet, or for continue). jump reports whether
// evaluation returns to the calling chain afterwards. entry is set instead
// when the vmap's entry carries a verdict of its own: the rule it stands
// for (ruleset.EntryRule).
func target(rs ruleset.Lookup, v ruleset.Verdict, pkt Packet) (*ruleset.Chain, bool, *ruleset.Rule, error) {
	name, jump := "", true
	switch v.Kind {
	case ruleset.Jump:
		name = v.Chain
	case ruleset.Goto:
		name, jump = v.Chain, false
	case ruleset.VMap:
		if s := rs.Set(v.Map); s != nil && s.Live != nil && s.Live.Verdicts {
			if fullSocket(pkt) { // socket cgroupv2 level N vmap: a full socket only
				name = ruleset.CgroupJump(v, s, pkt.Cgroup)
			}
			break
		}
		m := rs.Map(v.Map)
		if m == nil {
			return nil, false, nil, fmt.Errorf("no map %q", v.Map)
		}
		e, ok := lookup(m, pkt)
		if ok && e.Verdict != "" {
			return nil, false, ruleset.EntryRule(m, e), nil
		}
		name = e.Chain
	}
	if name == "" {
		return nil, false, nil, nil
	}
	c := rs.Chain(name)
	if c == nil {
		return nil, false, nil, fmt.Errorf("no chain %q", name)
	}
	return c, jump, nil, nil
}

// fullSocket reports whether pkt has a full socket, for `socket cgroupv2`:
// an owned packet's, or an orphan's (net/netfilter/nft_socket.c looks at
// skb->sk with sk_fullsock, not at its file).
func fullSocket(pkt Packet) bool { return pkt.Owned || pkt.Orphan }

// Unowned is the first packet of a connection the kernel opens itself, with
// no socket a user owns (an NFS mount, a WireGuard or VXLAN tunnel), to
// addr; or, with cgroup (ids as in Packet.Cgroup), a packet of a closed
// socket of a program in that cgroup (an orphan). It leaves through lo like
// NewConnection's.
func Unowned(addr netip.Addr, proto uint8, port uint16, icmpType uint8, cgroup []uint64, local []netip.Addr) Packet {
	return Packet{Orphan: cgroup != nil, Cgroup: cgroup, Daddr: addr, Proto: proto, Dport: port, ICMPType: icmpType,
		Loopback: isLocal(addr, local)}
}

// NewConnection is the first packet of a new connection from a socket of
// uid and gid to addr. It leaves through lo when addr is a loopback address
// or one of local (the host's own addresses).
func NewConnection(uid, gid uint32, addr netip.Addr, proto uint8, port uint16, icmpType uint8, local []netip.Addr) Packet {
	return Packet{Owned: true, UID: uid, GID: gid, Daddr: addr, Proto: proto, Dport: port, ICMPType: icmpType,
		Loopback: isLocal(addr, local)}
}

func isLocal(a netip.Addr, local []netip.Addr) bool {
	if a.IsLoopback() {
		return true
	}
	for _, l := range local {
		if l == a {
			return true
		}
	}
	return false
}
