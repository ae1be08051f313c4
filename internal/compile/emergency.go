package compile

import "github.com/leash-dev/leash/internal/ruleset"

// Names of the emergency table's sets.
const (
	SetEmergencyICMPv6 = "emergency_icmpv6"
	SetEmergencyDHCP   = "emergency_dhcp"
)

// Emergency is the table `leash restore` loads when the stored state cannot
// be trusted (see docs/security.md, "Fail-closed restore"). It keeps the host
// administrable and blocks every new outgoing connection of every user,
// root included:
//
//	oif "lo" accept                                     # the host itself
//	ct state established,related accept                 # replies (inbound SSH), open connections
//	meta l4proto ipv6-icmp icmpv6 type @emergency_icmpv6 accept   # NDP, MLD
//	meta l4proto udp th dport @emergency_dhcp accept    # DHCP and DHCPv6 clients
//	drop                                                # everything else
//
// Every rule's comment starts with "emergency/", so `leash show` and
// `nft list table inet leash` make the state obvious.
func Emergency() *ruleset.Ruleset {
	icmp, icmpInterval := numLayout([]ruleset.Range{{Lo: 130, Hi: 137}, {Lo: 143, Hi: 143}})
	dhcp, dhcpInterval := numLayout([]ruleset.Range{{Lo: 67, Hi: 67}, {Lo: 547, Hi: 547}})
	rule := func(id, text string, v ruleset.VerdictKind, m ...ruleset.Match) *ruleset.Rule {
		return &ruleset.Rule{Match: m, Verdict: ruleset.Verdict{Kind: v},
			Origin: ruleset.Origin{ID: "emergency/" + id, What: "emergency", Text: text}}
	}
	return &ruleset.Ruleset{
		Sets: []*ruleset.Set{
			{Name: SetEmergencyICMPv6, Kind: ruleset.KindICMPv6, Interval: icmpInterval, Ranges: icmp},
			{Name: SetEmergencyDHCP, Kind: ruleset.KindPort, Interval: dhcpInterval, Ranges: dhcp},
		},
		Chains: []*ruleset.Chain{{Name: ChainOutput, Hook: &ruleset.Hook{Hook: "output"}, Rules: []*ruleset.Rule{
			rule("loopback", "emergency: traffic to this host itself", ruleset.Accept,
				ruleset.Match{Kind: ruleset.MatchLoopback}),
			rule("established", "emergency: replies and connections already open (admins can still log in)", ruleset.Accept,
				ruleset.Match{Kind: ruleset.MatchCtEstablished}),
			rule("control", "emergency: IPv6 neighbour discovery and MLD", ruleset.Accept,
				ruleset.Match{Kind: ruleset.MatchL4Proto, Value: ruleset.ProtoICMPv6}, ruleset.Match{Kind: ruleset.MatchICMPType, Set: SetEmergencyICMPv6}),
			rule("dhcp", "emergency: DHCP and DHCPv6 clients keep their addresses", ruleset.Accept,
				ruleset.Match{Kind: ruleset.MatchL4Proto, Value: ruleset.ProtoUDP}, ruleset.Match{Kind: ruleset.MatchDport, Set: SetEmergencyDHCP}),
			rule("drop", "emergency: the stored state is unusable; every other new connection is dropped until an admin runs leash rollback or leash apply", ruleset.Drop),
		}}},
	}
}
