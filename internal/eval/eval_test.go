package eval_test

import (
	"context"
	"net/netip"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/eval"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/policy/policytest"
	"github.com/leash-dev/leash/internal/ruleset"
)

func TestCombinedPolicy(t *testing.T) {
	ids := policytest.DefaultIDs
	rs := compileExample(t, "combined.yaml")
	tcp := func(uid, gid uint32, addr string, port uint16) eval.Packet {
		return eval.Packet{Owned: true, UID: uid, GID: gid, Daddr: netip.MustParseAddr(addr), Proto: ruleset.ProtoTCP, Dport: port}
	}
	udp := func(uid, gid uint32, addr string, port uint16) eval.Packet {
		p := tcp(uid, gid, addr, port)
		p.Proto = ruleset.ProtoUDP
		return p
	}
	ping6 := func(uid, gid uint32, addr string) eval.Packet {
		return eval.Packet{Owned: true, UID: uid, GID: gid, Daddr: netip.MustParseAddr(addr), Proto: ruleset.ProtoICMPv6, ICMPType: 128}
	}
	with := func(p eval.Packet, f func(*eval.Packet)) eval.Packet { f(&p); return p }
	tests := []struct {
		name    string
		pkt     eval.Packet
		verdict ruleset.VerdictKind
		id      string // deciding rule's origin id
	}{
		{"apache smtp v4", tcp(ids.Apache, ids.Users, "192.0.2.25", 25), ruleset.Accept, "webmail/r1"},
		{"apache imap v6", tcp(ids.Apache, ids.Users, "2001:db8::25", 143), ruleset.Accept, "webmail/r1"},
		{"apache http to mail host is reset", tcp(ids.Apache, ids.Users, "192.0.2.25", 80), ruleset.RejectTCPRST, "webmail/default"},
		{"apache udp elsewhere gets admin-prohibited", udp(ids.Apache, ids.Users, "203.0.113.9", 25), ruleset.RejectAdmin, "webmail/default"},
		{"apache loopback database", with(tcp(ids.Apache, ids.Users, "127.0.0.1", 3306), func(p *eval.Packet) { p.Loopback = true }), ruleset.Accept, "webmail/loopback"},
		{"oracle cut off v4", tcp(ids.Oracle, ids.Users, "203.0.113.9", 443), ruleset.Drop, "offline/default"},
		{"oracle cut off v6 ping", ping6(ids.Oracle, ids.Users, "2001:db8::1"), ruleset.Drop, "offline/default"},
		{"oracle answers clients of its listener", with(tcp(ids.Oracle, ids.Users, "203.0.113.9", 40000), func(p *eval.Packet) { p.CtReply = true }), ruleset.Accept, "offline/established"},
		{"alice (primary member) no lan", tcp(ids.Alice, ids.Supporters, "10.1.2.3", 22), ruleset.Drop, "supporters-no-lan/r1"},
		{"bob (supplementary member) no lan v6", tcp(ids.Bob, ids.Users, "fd00::1", 22), ruleset.Drop, "supporters-no-lan/r1"},
		{"bob internet open", tcp(ids.Bob, ids.Users, "203.0.113.9", 443), ruleset.Accept, "supporters-no-lan/default"},
		{"unknown uid with socket gid supporters", tcp(7777, ids.Supporters, "192.168.1.1", 80), ruleset.Drop, "supporters-no-lan/r1"},
		{"carol dns to resolver", udp(ids.Carol, ids.Users, "10.0.0.53", 53), ruleset.Accept, "server/r1"},
		{"carol ntp anywhere", udp(ids.Carol, ids.Users, "2001:db8::123", 123), ruleset.Accept, "server/r2"},
		{"carol https to mirror", tcp(ids.Carol, ids.Users, "192.0.2.81", 443), ruleset.Accept, "server/r3"},
		{"carol https elsewhere", tcp(ids.Carol, ids.Users, "203.0.113.9", 443), ruleset.Drop, "server/default"},
		{"root is everyone too", tcp(0, 0, "203.0.113.9", 22), ruleset.Drop, "server/default"},
		{"unowned packet of a known connection", eval.Packet{Daddr: netip.MustParseAddr("203.0.113.9"), Proto: ruleset.ProtoTCP, Dport: 22, CtEstablished: true}, ruleset.Accept, "unowned/established"},
		{"unowned neighbour solicitation", eval.Packet{Daddr: netip.MustParseAddr("ff02::1:ff00:1"), Proto: ruleset.ProtoICMPv6, ICMPType: 135}, ruleset.Accept, "unowned/control"},
		{"unowned MLD report within the rate", eval.Packet{Daddr: netip.MustParseAddr("ff02::16"), Proto: ruleset.ProtoICMPv6, ICMPType: 143}, ruleset.Accept, "unowned/mld"},
		{"bob to an allowed address through a routing header", with(tcp(ids.Bob, ids.Users, "2001:db8::9", 443), func(p *eval.Packet) { p.RoutingHeader = true }), ruleset.Drop, "supporters-no-lan/routing-header"},
		{"bob's IPv4 packet: no routing header match", tcp(ids.Bob, ids.Users, "203.0.113.9", 443), ruleset.Accept, "supporters-no-lan/default"},
		{"bob to an allowed address through a loose source route", with(tcp(ids.Bob, ids.Users, "203.0.113.9", 443), func(p *eval.Packet) { p.SourceRoute = ruleset.OptLSRR }), ruleset.Drop, "supporters-no-lan/source-route"},
		{"bob to an allowed address through a strict source route", with(tcp(ids.Bob, ids.Users, "203.0.113.9", 443), func(p *eval.Packet) { p.SourceRoute = ruleset.OptSSRR }), ruleset.Drop, "supporters-no-lan/source-route"},
		{"unowned new packet judged by everyone", eval.Packet{Daddr: netip.MustParseAddr("203.0.113.9"), Proto: ruleset.ProtoUDP, Dport: 51820}, ruleset.Drop, "server/default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := eval.Evaluate(rs, tt.pkt)
			if err != nil {
				t.Fatal(err)
			}
			id := ""
			if res.Rule != nil {
				id = res.Rule.Origin.ID
			}
			if res.Verdict.Kind != tt.verdict || id != tt.id {
				t.Errorf("got %s by %q (path %v), want %s by %q", res.Verdict.Kind, id, res.Path, tt.verdict, tt.id)
			}
		})
	}
}

func TestNoPolicyForUserAllows(t *testing.T) {
	rs := compileExample(t, "offline-user.yaml")
	res, err := eval.Evaluate(rs, eval.Packet{Owned: true, UID: policytest.DefaultIDs.Carol, Daddr: netip.MustParseAddr("203.0.113.9"), Proto: ruleset.ProtoTCP, Dport: 443})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Allowed() || res.Rule == nil || res.Rule.Origin.ID != "dispatch/unlisted" {
		t.Errorf("carol: got %+v, want accept by dispatch/unlisted", res)
	}
}

func compileExample(t *testing.T, name string) *ruleset.Ruleset {
	t.Helper()
	src, err := os.ReadFile("../../examples/" + name)
	if err != nil {
		t.Fatal(err)
	}
	res, err := policy.Load(context.Background(), "examples/"+name, src, policytest.Env(policytest.DefaultIDs))
	if err != nil {
		t.Fatal(err)
	}
	return compile.Compile(res)
}

// TestMaskedLookup: `ip daddr & 255.255.255.240 @s` with s holding /28
// network addresses matches every address of those /28s, and only them.
func TestMaskedLookup(t *testing.T) {
	rs := &ruleset.Ruleset{
		Sets: []*ruleset.Set{{Name: "s", Kind: ruleset.KindIPv4, Prefixes: []netip.Prefix{netip.MustParsePrefix("10.0.0.16/32")}}},
		Chains: []*ruleset.Chain{{Name: "output", Hook: &ruleset.Hook{Hook: "output"}, Rules: []*ruleset.Rule{
			{Match: []ruleset.Match{{Kind: ruleset.MatchDaddr, Set: "s", Mask: 28}}, Verdict: ruleset.Verdict{Kind: ruleset.Drop}},
		}}},
	}
	for addr, want := range map[string]bool{"10.0.0.16": false, "10.0.0.31": false, "10.0.0.15": true, "10.0.0.32": true, "2001:db8::10": true} {
		res, err := eval.Evaluate(rs, eval.Packet{Owned: true, Daddr: netip.MustParseAddr(addr), Proto: ruleset.ProtoUDP, Dport: 53})
		if err != nil {
			t.Fatal(err)
		}
		if res.Allowed() != want {
			t.Errorf("%s: allowed = %t, want %t", addr, res.Allowed(), want)
		}
	}
}

// TestLoggedDenial: a denial with log: true passes its log rule first.
func TestLoggedDenial(t *testing.T) {
	rs := compileExample(t, "supporters-no-lan.yaml")
	ids := policytest.DefaultIDs
	res, err := eval.Evaluate(rs, eval.NewConnection(ids.Bob, ids.Users, netip.MustParseAddr("10.1.2.3"), ruleset.ProtoTCP, 22, 0, nil))
	if err != nil {
		t.Fatal(err)
	}
	if res.Allowed() || res.Logged != "leash supporters-no-lan/r1 drop" {
		t.Errorf("got allowed=%t logged=%q, want a drop logged as supporters-no-lan/r1", res.Allowed(), res.Logged)
	}
	res, err = eval.Evaluate(rs, eval.NewConnection(ids.Bob, ids.Users, netip.MustParseAddr("203.0.113.9"), ruleset.ProtoTCP, 443, 0, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Allowed() || res.Logged != "" {
		t.Errorf("got allowed=%t logged=%q, want allowed and not logged", res.Allowed(), res.Logged)
	}
}

// TestEvaluateHooks: only the packet's hook's base chains judge it, in
// priority order; an accept ends a base chain, a drop is final.
func TestEvaluateHooks(t *testing.T) {
	accept := &ruleset.Rule{Verdict: ruleset.Verdict{Kind: ruleset.Accept}, Origin: ruleset.Origin{ID: "a"}}
	drop := &ruleset.Rule{Verdict: ruleset.Verdict{Kind: ruleset.Drop}, Origin: ruleset.Origin{ID: "d"}}
	rs := &ruleset.Ruleset{Chains: []*ruleset.Chain{
		{Name: "late", Hook: &ruleset.Hook{Hook: "output", Priority: 10}, Rules: []*ruleset.Rule{drop}},
		{Name: "early", Hook: &ruleset.Hook{Hook: "output", Priority: -10}, Rules: []*ruleset.Rule{accept}},
		{Name: "fwd", Hook: &ruleset.Hook{Hook: "forward"}, Rules: []*ruleset.Rule{accept}},
	}}
	for _, tc := range []struct {
		name      string
		hook      string
		wantChain string
		wantPath  []string
		allowed   bool
	}{
		{name: "output: accept in one chain, drop in the next", hook: "", wantChain: "late", wantPath: []string{"early", "late"}},
		{name: "forward", hook: "forward", wantChain: "fwd", wantPath: []string{"fwd"}, allowed: true},
		{name: "a hook without chains accepts", hook: "input", allowed: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := eval.Evaluate(rs, eval.Packet{Hook: tc.hook})
			if err != nil {
				t.Fatal(err)
			}
			if res.Allowed() != tc.allowed || res.Chain != tc.wantChain {
				t.Errorf("verdict %s in %q, want allowed=%v in %q", res.Verdict.Kind, res.Chain, tc.allowed, tc.wantChain)
			}
			if diff := cmp.Diff(tc.wantPath, res.Path); diff != "" {
				t.Errorf("path (-want +got):\n%s", diff)
			}
		})
	}
}
