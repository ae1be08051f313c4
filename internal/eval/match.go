package eval

import (
	"fmt"
	"net/netip"

	"github.com/leash-dev/leash/internal/ruleset"
)

// matches reports whether all of ms hold for pkt, with the kernel's semantics
// for each match kind (see ruleset.MatchKind).
func matches(rs ruleset.Lookup, ms []ruleset.Match, pkt Packet) (bool, error) {
	for _, m := range ms {
		ok, err := match(rs, m, pkt)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

func match(rs ruleset.Lookup, m ruleset.Match, pkt Packet) (bool, error) {
	switch m.Kind {
	case ruleset.MatchFamily:
		return family(pkt) == m.Value, nil
	case ruleset.MatchOwned:
		return pkt.Owned, nil
	case ruleset.MatchLoopback:
		return pkt.Loopback, nil
	case ruleset.MatchCtReply:
		return pkt.CtReply, nil
	case ruleset.MatchCtEstablished:
		return pkt.CtEstablished || pkt.CtReply, nil
	case ruleset.MatchL4Proto:
		return uint32(pkt.Proto) == m.Value, nil
	case ruleset.MatchMark:
		return pkt.Mark == m.Value, nil
	case ruleset.MatchDaddr:
		return daddrIn(rs, m.Set, m.Mask, pkt)
	case ruleset.MatchDport:
		if pkt.Proto != ruleset.ProtoTCP && pkt.Proto != ruleset.ProtoUDP {
			return false, nil // no transport header ports to load
		}
		return numIn(rs, m.Set, uint32(pkt.Dport))
	case ruleset.MatchICMPType:
		return icmpIn(rs, m.Set, pkt)
	case ruleset.MatchRoutingHeader:
		return family(pkt) == 6 && pkt.RoutingHeader, nil
	case ruleset.MatchSourceRoute:
		return family(pkt) == 4 && uint32(pkt.SourceRoute) == m.Value, nil
	case ruleset.MatchOifname:
		return pkt.Oifname != "" && ruleset.IfnameMatches(m.Name, pkt.Oifname), nil
	case ruleset.MatchCtNew:
		return !pkt.CtEstablished && !pkt.CtReply, nil
	case ruleset.MatchCtMark:
		return (pkt.CtMark&m.Bits == m.Value) != m.Not, nil
	case ruleset.MatchMPTCPJoin:
		return pkt.Proto == ruleset.ProtoTCP && pkt.MPTCPJoin, nil
	case ruleset.MatchMeter:
		// Like MatchLimit: the kernel's budgets are state leash check
		// cannot see; Packet.OverLimit says which side to judge.
		return !pkt.OverLimit, nil
	case ruleset.MatchTime:
		s, err := set(rs, m.Set)
		if err != nil {
			return false, err
		}
		return ruleset.InTimes(s.Times, pkt.At), nil
	case ruleset.MatchCgroup:
		s, err := set(rs, m.Set)
		if err != nil {
			return false, err
		}
		return fullSocket(pkt) && ruleset.CgroupIn(m, s, pkt.Cgroup), nil
	case ruleset.MatchLimit:
		// A token bucket: a packet is judged as one within the rate (an
		// explanation is about one connection, not a flood), unless
		// Packet.OverLimit.
		return !pkt.OverLimit, nil
	}
	return false, fmt.Errorf("unknown match kind %q", m.Kind)
}

func family(pkt Packet) uint32 {
	if pkt.Daddr.Is4() {
		return 4
	}
	return 6
}

func set(rs ruleset.Lookup, name string) (*ruleset.Set, error) {
	if s := rs.Set(name); s != nil {
		return s, nil
	}
	return nil, fmt.Errorf("no set %q", name)
}

// daddrIn: `ip daddr @s` only matches IPv4 packets, `ip6 daddr @s` IPv6 ones.
// With a mask (`ip daddr & 255.255.255.240 @s`) the address is masked first.
func daddrIn(rs ruleset.Lookup, name string, mask uint8, pkt Packet) (bool, error) {
	s, err := set(rs, name)
	if err != nil {
		return false, err
	}
	if (s.Kind == ruleset.KindIPv4) != pkt.Daddr.Is4() {
		return false, nil
	}
	addr := pkt.Daddr
	if mask > 0 {
		addr = netip.PrefixFrom(addr, int(mask)).Masked().Addr()
	}
	for _, p := range s.Prefixes {
		if p.Contains(addr) {
			return true, nil
		}
	}
	return false, nil
}

func numIn(rs ruleset.Lookup, name string, v uint32) (bool, error) {
	s, err := set(rs, name)
	if err != nil {
		return false, err
	}
	for _, r := range s.Ranges {
		if r.Contains(v) {
			return true, nil
		}
	}
	return false, nil
}

// icmpIn: `icmp type` needs an IPv4 ICMP packet, `icmpv6 type` an ICMPv6 one.
func icmpIn(rs ruleset.Lookup, name string, pkt Packet) (bool, error) {
	s, err := set(rs, name)
	if err != nil {
		return false, err
	}
	want := uint8(ruleset.ProtoICMP)
	if s.Kind == ruleset.KindICMPv6 {
		want = ruleset.ProtoICMPv6
	}
	if pkt.Proto != want {
		return false, nil
	}
	return numIn(rs, name, uint32(pkt.ICMPType))
}
