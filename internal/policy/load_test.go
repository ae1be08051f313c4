package policy

import (
	"context"
	"net/netip"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/leash-dev/leash/internal/ruleset"
)

func pfx(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func TestLoadExample(t *testing.T) {
	const file = "example.yaml"
	src, err := os.ReadFile("testdata/good/" + file)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Load(context.Background(), file, src, testEnv())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	at := func(line, col int) Pos { return Pos{File: file, Line: line, Col: col} }
	r := func(lo, hi uint32) ruleset.Range { return ruleset.Range{Lo: lo, Hi: hi} }
	want := &Resolved{
		File: file,
		Baseline: Baseline{
			Loopback:         Loopback{Mode: LoopbackAll, Pos: at(3, 13)},
			Established:      true,
			EstablishedPos:   at(4, 16),
			Unowned:          UnownedEveryone,
			MulticastReports: MulticastLimit,
			Log:              LogSettings{Group: ruleset.DefaultLogGroup, Rate: DefaultLogRate, Unit: DefaultLogUnit, Burst: DefaultLogBurst, Pos: Pos{File: "example.yaml"}},
			Pos:              at(2, 1),
			OrphanMark:       DefaultOrphanMark,
			MPTCPJoins:       MPTCPDeny,
		},
		Policies: []*ResolvedPolicy{
			{
				Name:       "webmail",
				Pos:        at(10, 5),
				UIDs:       []ruleset.Range{r(48, 48), r(1001, 1001), r(2000, 2999)},
				GIDs:       []uint32{1500},
				MemberUIDs: []ruleset.Range{r(1002, 1003)},
				Rules: []*ResolvedRule{
					{
						Index: 1, Pos: at(14, 9), Action: Allow,
						Text: "allow: {to: [mail.example.com], ports: [25/tcp, 143/tcp]}",
						To:   &Destinations{V4: pfx("192.0.2.25/32"), V6: pfx("2001:db8::25/128"), Hosts: []string{"mail.example.com"}},
						Protos: []ProtoSpec{
							{Proto: ruleset.ProtoTCP, Ports: []ruleset.Range{r(25, 25), r(143, 143)}},
						},
					},
					{
						Index: 2, Pos: at(15, 9), Action: Deny,
						Text: "deny: {to: [lan]}",
						To:   &Destinations{V4: pfx("10.0.0.0/8", "192.168.0.0/16"), V6: pfx("fd00::/8")},
					},
					{Index: 3, Pos: at(16, 9), Action: Reject, Text: "reject: {ports: [any]}"},
				},
				Default:        Reject,
				DefaultPos:     at(17, 14),
				Loopback:       Loopback{Mode: LoopbackNone, Pos: at(18, 15)},
				Established:    false,
				EstablishedPos: at(19, 18),
				Log:            true,
				LogPos:         Pos{File: "example.yaml"},
			},
			{
				Name:     "rest",
				Pos:      at(20, 5),
				Everyone: true,
				Rules: []*ResolvedRule{
					{
						Index: 1, Pos: at(23, 9), Action: Allow,
						Text: "allow: {to: [mirrors, lan], ports: [https, 8000-8999/tcp, ping, icmpv6:packet-too-big]}",
						To: &Destinations{
							V4:    pfx("10.0.0.0/8", "192.168.0.0/16", "198.51.100.10/31"),
							V6:    pfx("2001:db8:1::11/128", "fd00::/8"),
							Hosts: []string{"security.example.org", "updates.example.org"},
						},
						Protos: []ProtoSpec{
							{Proto: ruleset.ProtoICMP, Types: []ruleset.Range{r(8, 8)}},
							{Proto: ruleset.ProtoTCP, Ports: []ruleset.Range{r(443, 443), r(8000, 8999)}},
							{Proto: ruleset.ProtoUDP, Ports: []ruleset.Range{r(443, 443)}},
							{Proto: ruleset.ProtoICMPv6, Types: []ruleset.Range{r(2, 2), r(128, 128)}},
						},
					},
					{
						Index: 2, Pos: at(24, 9), Action: Allow,
						Text: `allow: {to: ["::ffff:192.0.2.1", 2001:db8::/32], ports: [53, domain/udp, tcp, icmp, icmp:8]}`,
						To:   &Destinations{V4: pfx("192.0.2.1/32"), V6: pfx("2001:db8::/32")},
						Protos: []ProtoSpec{
							{Proto: ruleset.ProtoICMP},
							{Proto: ruleset.ProtoTCP},
							{Proto: ruleset.ProtoUDP, Ports: []ruleset.Range{r(53, 53)}},
						},
					},
				},
				Default:    Deny,
				DefaultPos: at(27, 14),
				Loopback: Loopback{Mode: LoopbackPorts, Pos: at(28, 15), Protos: []ProtoSpec{
					{Proto: ruleset.ProtoTCP, Ports: []ruleset.Range{r(53, 53), r(631, 631)}},
					{Proto: ruleset.ProtoUDP, Ports: []ruleset.Range{r(53, 53)}},
				}},
				Established:    true,
				EstablishedPos: at(4, 16),
				Log:            true,
				LogPos:         Pos{File: "example.yaml"},
			},
		},
		Hosts: map[string][]netip.Addr{
			"mail.example.com":     {netip.MustParseAddr("192.0.2.25"), netip.MustParseAddr("2001:db8::25")},
			"updates.example.org":  {netip.MustParseAddr("198.51.100.10")},
			"security.example.org": {netip.MustParseAddr("198.51.100.11"), netip.MustParseAddr("2001:db8:1::11")},
		},
		// The one thing a reviewer would flag: the fixture's services list
		// https for both protocols, as /etc/services does.
		Lint: []Warning{{Pos: at(23, 45), Message: "https opens 443/tcp and 443/udp: /etc/services lists it for both protocols", Fix: "write https/tcp or https/udp if only one is meant"}},
	}
	if diff := cmp.Diff(want, got, netipOpts()); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
}
