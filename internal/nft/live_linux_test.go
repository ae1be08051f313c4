package nft

import (
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/leash-dev/leash/internal/ruleset"
)

var (
	h4a = netip.MustParseAddr("10.200.0.1")
	h4b = netip.MustParseAddr("10.200.0.2")
	h4c = netip.MustParseAddr("10.200.0.3")
)

// liveSample is a table with live sets of every kind: a counting IPv4 set
// with timeouts and a size (one element with its own timeout), an IPv6 set
// without timeout, and a cgroupsv2 set; a rule looks the IPv4 set up.
func liveSample(cgroups ...uint64) *ruleset.Ruleset {
	h4 := &ruleset.Set{Name: "host4", Kind: ruleset.KindIPv4,
		Live: &ruleset.Live{Timeout: time.Hour, Size: 16, Counters: true, Source: "host:mail.example.com"}}
	h4.SetElements([]ruleset.Element{{Addr: h4a, ElementState: ruleset.ElementState{Timeout: 30 * time.Minute}}, {Addr: h4b}})
	h6 := &ruleset.Set{Name: "host6", Kind: ruleset.KindIPv6, Live: &ruleset.Live{Source: "host:mail.example.com"}}
	h6.SetElements([]ruleset.Element{{Addr: netip.MustParseAddr("fd00:200::1")}})
	cg := &ruleset.Set{Name: "units", Kind: ruleset.KindCgroup, Live: &ruleset.Live{Timeout: time.Minute, Source: "unit:mail.service"}, Cgroups: cgroups}
	return &ruleset.Ruleset{
		Sets: []*ruleset.Set{h4, h6, cg},
		Chains: []*ruleset.Chain{{Name: "out", Hook: &ruleset.Hook{Hook: "output"}, Rules: []*ruleset.Rule{
			{Match: []ruleset.Match{{Kind: ruleset.MatchDaddr, Set: "host4"}}, Verdict: ruleset.Verdict{Kind: ruleset.Accept}, Origin: ruleset.Origin{ID: "p/r1"}},
		}}},
	}
}

var (
	expiresRE   = regexp.MustCompile(` expires [0-9dhms]+`)
	expiresNLRE = regexp.MustCompile(`(expires|timeout) [0-9]+ms`)
)

// TestLiveTextEquivalence: nft -f of ruleset.Text and Apply give the same
// listing for live sets (expiry aside, which counts down), and what nft
// loaded reads back as the same declarations and elements.
func TestLiveTextEquivalence(t *testing.T) {
	nsA, _ := newNS(t)
	nsB, c := newNS(t)
	rs := liveSample() // cgroup ids have no nft text form: none here
	inNS(t, nsA, ruleset.Text(rs, ruleset.TextOptions{}), "nft", "-f", "-")
	if err := c.Apply(rs); err != nil {
		t.Fatal(err)
	}
	want, got := expiresRE.ReplaceAllString(list(t, nsA), ""), expiresRE.ReplaceAllString(list(t, nsB), "")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("nft list (-nft -f +Apply):\n%s", diff)
	}
	// The netlink-level dump must agree too (flags, timeouts, expressions).
	dump := func(ns string) string {
		return sortElementLines(expiresRE.ReplaceAllString(expiresNLRE.ReplaceAllString(ns, ""), ""))
	}
	wantNL := dump(inNS(t, nsA, "", "nft", "--debug=netlink", "list", "table", "inet", "leash"))
	gotNL := dump(inNS(t, nsB, "", "nft", "--debug=netlink", "list", "table", "inet", "leash"))
	if diff := cmp.Diff(wantNL, gotNL); diff != "" {
		t.Errorf("nft --debug=netlink list (-nft -f +Apply):\n%s", diff)
	}
	cA, err := Open(WithNetNS(nsA.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	fromText, err := cA.Read()
	if err != nil {
		t.Fatalf("Read of the live sets nft -f loaded: %v", err)
	}
	if diff := diffIR(kernelView(rs), withoutExpiry(fromText)); diff != "" {
		t.Errorf("Read of nft -f table (-want +got):\n%s", diff)
	}
}

// withoutExpiry clears the remaining lifetimes of rs's live elements.
func withoutExpiry(rs *ruleset.Ruleset) *ruleset.Ruleset {
	for _, s := range rs.Sets {
		if s.Live == nil {
			continue
		}
		elems := s.Elements()
		for i := range elems {
			elems[i].Expires = 0
		}
		s.SetElements(elems)
	}
	return rs
}

// TestLiveSets: live sets load with their flags, count per element, take
// incremental updates in one transaction (a bad op refuses them all),
// expire, read back, and a replace that carries them keeps counters.
func TestLiveSets(t *testing.T) {
	ns, c := newNS(t)
	inNS(t, ns, "", "ip", "link", "set", "lo", "up")
	inNS(t, ns, "", "ip", "addr", "add", "10.200.0.1/32", "dev", "lo")
	if err := c.Apply(liveSample(4242, 1<<40)); err != nil {
		t.Fatal(err)
	}
	if err := ns.Do(func() error { return sendUDP("10.200.0.1:9") }); err != nil {
		t.Fatal(err)
	}
	got, err := c.Read()
	if err != nil {
		t.Fatalf("Read of live sets: %v", err)
	}
	h4 := got.Set("host4").Elements()
	if len(h4) != 2 || h4[0].Addr != h4a || h4[0].Timeout != 30*time.Minute || h4[1].Timeout != 0 {
		t.Fatalf("host4 elements = %+v, want %v (own timeout 30m) and %v", h4, h4a, h4b)
	}
	if h4[0].Packets == 0 || h4[1].Packets != 0 {
		t.Errorf("host4 counters = %d, %d packets; want the element sent to count", h4[0].Packets, h4[1].Packets)
	}
	if e := h4[1].Expires; e <= 59*time.Minute || e > time.Hour {
		t.Errorf("host4 %v expires in %s, want about 1h", h4b, e)
	}
	if diff := cmp.Diff([]uint64{4242, 1 << 40}, got.Set("units").Cgroups); diff != "" {
		t.Errorf("cgroup ids (-want +got):\n%s", diff)
	}
	live, err := c.ReadLive()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range live.Sets {
		if diff := diffIR(&ruleset.Ruleset{Sets: []*ruleset.Set{withoutExpiry(&ruleset.Ruleset{Sets: []*ruleset.Set{got.Set(s.Name)}}).Sets[0]}},
			withoutExpiry(&ruleset.Ruleset{Sets: []*ruleset.Set{s}})); diff != "" {
			t.Errorf("ReadLive %s differs from Read (-Read +ReadLive):\n%s", s.Name, diff)
		}
	}
	if len(live.Sets) != 3 {
		t.Errorf("ReadLive returned %d sets, want 3", len(live.Sets))
	}

	// A batch with one bad op (a static set... here: a missing one) changes nothing.
	before := list(t, ns)
	err = c.UpdateElements([]ruleset.ElementOp{{Set: "host4", Elem: ruleset.Element{Addr: h4c}}, {Set: "nope", Elem: ruleset.Element{Addr: h4c}}})
	if err == nil || !strings.Contains(err.Error(), "nothing changed") {
		t.Errorf("UpdateElements with a bad op = %v, want refused", err)
	}
	if diff := cmp.Diff(expiresRE.ReplaceAllString(before, ""), expiresRE.ReplaceAllString(list(t, ns), "")); diff != "" {
		t.Errorf("refused update changed the table:\n%s", diff)
	}

	// Add with a short timeout, delete one, delete an absent one: one transaction.
	ops := []ruleset.ElementOp{
		{Set: "host4", Elem: ruleset.Element{Addr: h4c, ElementState: ruleset.ElementState{Timeout: 1500 * time.Millisecond}}},
		{Set: "host4", Delete: true, Elem: ruleset.Element{Addr: h4b}},
		{Set: "host4", Delete: true, Elem: ruleset.Element{Addr: netip.MustParseAddr("10.200.0.9")}},
		{Set: "units", Elem: ruleset.Element{Cgroup: 7}},
	}
	if err := c.UpdateElements(ops); err != nil {
		t.Fatal(err)
	}
	got, err = c.Read()
	if err != nil {
		t.Fatal(err)
	}
	if keys := elementKeys(got.Set("host4")); keys != "10.200.0.1 10.200.0.3" {
		t.Errorf("host4 after update = %s, want 10.200.0.1 10.200.0.3", keys)
	}
	if keys := elementKeys(got.Set("units")); keys != "7 4242 1099511627776" {
		t.Errorf("units after update = %s", keys)
	}

	// A replace carrying the elements (as the engine's withLive does) keeps
	// their counters and lifetimes.
	carried := liveSample()
	var elems []ruleset.Element
	for _, e := range got.Set("host4").Elements() {
		e.Timeout, e.Expires = e.Expires.Truncate(time.Millisecond)+time.Millisecond, 0
		elems = append(elems, e)
	}
	carried.Set("host4").SetElements(elems)
	if err := c.Apply(carried); err != nil {
		t.Fatalf("Apply carrying live elements: %v", err)
	}
	again, err := c.Read()
	if err != nil {
		t.Fatal(err)
	}
	a := again.Set("host4").Elements()
	if len(a) != 2 || a[0].Packets != h4[0].Packets || a[0].Bytes != h4[0].Bytes || a[0].Expires > 30*time.Minute {
		t.Errorf("host4 after a carrying replace = %+v, want counters %d/%d kept", a, h4[0].Packets, h4[0].Bytes)
	}

	// The element with 1.5s expires; the others stay.
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err = c.Read()
		if err != nil {
			t.Fatal(err)
		}
		if elementKeys(got.Set("host4")) == "10.200.0.1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("10.200.0.3 did not expire: %s", elementKeys(got.Set("host4")))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestLiveUpdateRefusesStaticSet: an update naming a static set is refused
// before the kernel is asked.
func TestLiveUpdateRefusesStaticSet(t *testing.T) {
	_, c := newNS(t)
	if err := c.Apply(sample()); err != nil {
		t.Fatal(err)
	}
	err := c.UpdateElements([]ruleset.ElementOp{{Set: "h4", Elem: ruleset.Element{Addr: h4a}}})
	if err == nil || !strings.Contains(err.Error(), "no set h4") {
		t.Errorf("UpdateElements on a static set = %v, want refused", err)
	}
}

func elementKeys(s *ruleset.Set) string {
	var keys []string
	for _, e := range s.Elements() {
		keys = append(keys, e.Key())
	}
	return strings.Join(keys, " ")
}

// TestLiveForeignSets: the decoder accepts timeout, size and counter flags
// only on sets declared live in leash's vocabulary (a comment naming the
// source); a timeout set without one, or a live-looking set of another
// type or with an interval, is foreign.
func TestLiveForeignSets(t *testing.T) {
	ns, c := newNS(t)
	if err := c.Apply(liveSample()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(); err != nil {
		t.Fatalf("Read of leash's live sets: %v", err)
	}
	inNS(t, ns, `add set inet leash tmo { type ipv4_addr; flags timeout; }
add set inet leash cmt { type ether_addr; comment "host:x"; }
add set inet leash ivl { type ipv4_addr; flags interval; comment "host:y"; }
`, "nft", "-f", "-")
	_, err := c.Read()
	if err == nil {
		t.Fatal("Read accepted foreign sets")
	}
	if live, err := c.ReadLive(); err != nil || len(live.Sets) != 3 {
		t.Errorf("ReadLive beside foreign sets = %v, %v; want leash's 3 live sets", live, err)
	}
	for _, want := range []string{"set tmo", "set cmt", "set ivl"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}
