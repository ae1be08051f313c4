package nft

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/leash-dev/leash/internal/kerneltest"
	"github.com/leash-dev/leash/internal/netns"
	"github.com/leash-dev/leash/internal/ruleset"
	"golang.org/x/sys/unix"
)

// clearCounters returns rs with counters zeroed, and the total packets seen.
func clearCounters(rs *ruleset.Ruleset) uint64 {
	var n uint64
	for _, ch := range rs.Chains {
		for _, r := range ch.Rules {
			n += r.Packets
			r.Packets, r.Bytes = 0, 0
		}
	}
	return n
}

// TestRoundTrip: Apply then Read returns the applied IR (in canonical form,
// with Origin reduced to the ID the kernel stores), and counters count.
func TestRoundTrip(t *testing.T) {
	ns, c := newNS(t)
	rs := sample()
	if err := c.Apply(rs); err != nil {
		t.Fatal(err)
	}
	inNS(t, ns, "", "ip", "link", "set", "lo", "up")
	if err := ns.Do(func() error { return sendUDP("127.0.0.1:9") }); err != nil {
		t.Fatal(err)
	}
	got, err := c.Read()
	if err != nil {
		t.Fatal(err)
	}
	if n := clearCounters(got); n == 0 {
		t.Errorf("no rule counted the packet sent on lo")
	}
	if diff := diffIR(kernelView(rs), got); diff != "" {
		t.Errorf("Read after Apply (-want +got):\n%s", diff)
	}
	// Reading the canonical form back is a fixed point.
	if err := c.Apply(got); err != nil {
		t.Fatal(err)
	}
	again, err := c.Read()
	if err != nil {
		t.Fatal(err)
	}
	clearCounters(again)
	if diff := diffIR(got, again); diff != "" {
		t.Errorf("Apply(Read()) is not a fixed point (-first +second):\n%s", diff)
	}
}

// sortElementLines sorts each run of element lines of a netlink dump: the
// kernel lists a hash set's elements in hash order, which depends on the
// order they were inserted in.
func sortElementLines(dump string) string {
	lines := strings.Split(dump, "\n")
	for i := 0; i < len(lines); {
		j := i
		for j < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[j]), "element ") {
			j++
		}
		sort.Strings(lines[i:j])
		i = max(j, i+1)
	}
	return strings.Join(lines, "\n")
}

func sendUDP(addr string) error {
	conn, err := net.Dial("udp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.Write([]byte("x"))
	return err
}

// TestTextEquivalence loads ruleset.Text(rs) with nft -f in one namespace
// and Apply(rs) in another: nft must list the same table in both, so the
// encoder produces exactly nft's own encoding.
func TestTextEquivalence(t *testing.T) { checkTextEquivalence(t, sample()) }

// checkTextEquivalence is TestTextEquivalence for rs.
func checkTextEquivalence(t *testing.T, rs *ruleset.Ruleset) {
	t.Helper()
	nsA, _ := newNS(t)
	nsB, c := newNS(t)
	inNS(t, nsA, ruleset.Text(rs, ruleset.TextOptions{}), "nft", "-f", "-")
	if err := c.Apply(rs); err != nil {
		t.Fatal(err)
	}
	want, got := list(t, nsA), list(t, nsB)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("nft list (-nft -f +Apply):\n%s", diff)
	}
	// The netlink-level dump must agree too, not only nft's rendering.
	wantNL := sortElementLines(inNS(t, nsA, "", "nft", "--debug=netlink", "list", "table", "inet", "leash"))
	gotNL := sortElementLines(inNS(t, nsB, "", "nft", "--debug=netlink", "list", "table", "inet", "leash"))
	if diff := cmp.Diff(wantNL, gotNL); diff != "" {
		t.Errorf("nft --debug=netlink list (-nft -f +Apply):\n%s", diff)
	}
	// And what nft loaded decodes to the same IR as what Apply loaded.
	cA, err := Open(WithNetNS(nsA.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	fromText, err := cA.Read()
	if err != nil {
		t.Fatalf("Read of the table nft -f loaded: %v", err)
	}
	if diff := diffIR(kernelView(rs), fromText); diff != "" {
		t.Errorf("Read of nft -f table (-want +got):\n%s", diff)
	}
}

// TestEnforcement: a socket created with fsuid 4242 is sent by the skuid
// vmap to a dropping chain and cannot send to 127.0.0.1; fsuid 0 can. The
// deny counter counts the dropped packet.
func TestEnforcement(t *testing.T) {
	ns, c := newNS(t)
	inNS(t, ns, "", "ip", "link", "set", "lo", "up")
	rs := &ruleset.Ruleset{
		Maps: []*ruleset.Map{{Name: "users", Key: ruleset.KindUID, Entries: []ruleset.MapEntry{
			{Range: ruleset.Range{Lo: 4242, Hi: 4242}, Chain: "deny"}}}},
		Chains: []*ruleset.Chain{
			{Name: "deny", Rules: []*ruleset.Rule{{Verdict: ruleset.Verdict{Kind: ruleset.Drop}, Origin: ruleset.Origin{ID: "deny"}}}},
			{Name: "out", Hook: &ruleset.Hook{Hook: "output"}, Rules: []*ruleset.Rule{
				{Verdict: ruleset.Verdict{Kind: ruleset.VMap, Map: "users"}, Origin: ruleset.Origin{ID: "dispatch"}}}},
		},
	}
	if err := c.Apply(rs); err != nil {
		t.Fatal(err)
	}
	var asUser, asRoot error
	err := ns.Do(func() error {
		unix.Setfsuid(4242)
		asUser = sendUDP("127.0.0.1:9")
		unix.Setfsuid(0)
		// setfsuid returns the previous fsuid: 0 proves it was restored.
		if prev, _, _ := unix.RawSyscall(unix.SYS_SETFSUID, 0, 0, 0); prev != 0 {
			return errors.New("could not restore fsuid 0")
		}
		asRoot = sendUDP("127.0.0.1:9")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(asUser, unix.EPERM) {
		t.Errorf("send as fsuid 4242: got %v, want EPERM (dropped)", asUser)
	}
	if asRoot != nil {
		t.Errorf("send as fsuid 0: %v", asRoot)
	}
	got, err := c.Read()
	if err != nil {
		t.Fatal(err)
	}
	if p := got.Chain("deny").Rules[0].Packets; p != 1 {
		t.Errorf("deny counter = %d packets, want 1", p)
	}
	if p := got.Chain("out").Rules[0].Packets; p < 2 {
		t.Errorf("dispatch counter = %d packets, want >= 2", p)
	}
}

// TestOwnedMatch: `meta skuid >= 0` matches packets of a socket, not the
// RST the kernel sends (from its control socket) for a connect to a closed
// port.
func TestOwnedMatch(t *testing.T) {
	ns, c := newNS(t)
	inNS(t, ns, "", "ip", "link", "set", "lo", "up")
	tcp := ruleset.Match{Kind: ruleset.MatchL4Proto, Value: ruleset.ProtoTCP}
	rs := &ruleset.Ruleset{Chains: []*ruleset.Chain{{Name: "out", Hook: &ruleset.Hook{Hook: "output"}, Rules: []*ruleset.Rule{
		{Match: []ruleset.Match{tcp, {Kind: ruleset.MatchOwned}}, Verdict: ruleset.Verdict{Kind: ruleset.Continue}, Origin: ruleset.Origin{ID: "owned"}},
		{Match: []ruleset.Match{tcp}, Verdict: ruleset.Verdict{Kind: ruleset.Continue}, Origin: ruleset.Origin{ID: "all"}},
	}}}}
	if err := c.Apply(rs); err != nil {
		t.Fatal(err)
	}
	err := ns.Do(func() error {
		_, err := net.DialTimeout("tcp", "127.0.0.1:1", time.Second)
		if !errors.Is(err, unix.ECONNREFUSED) {
			return errors.New("connect to closed port: want ECONNREFUSED, got " + errString(err))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Read()
	if err != nil {
		t.Fatal(err)
	}
	owned, all := got.Chains[0].Rules[0].Packets, got.Chains[0].Rules[1].Packets
	if owned != 1 || all != 2 {
		t.Errorf("owned tcp = %d, all tcp = %d packets; want 1 (SYN) and 2 (SYN + kernel RST)", owned, all)
	}
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

const foreignTable = `table inet filter {
	chain c {
		type filter hook output priority 10; policy accept;
		ip daddr 192.0.2.1 counter drop
	}
}
`

// TestForeignTableUntouched: another table survives Apply and Reset.
func TestForeignTableUntouched(t *testing.T) {
	ns, c := newNS(t)
	inNS(t, ns, foreignTable, "nft", "-f", "-")
	listFilter := func() string { return inNS(t, ns, "", "nft", "list", "table", "inet", "filter") }
	before := listFilter()
	if err := c.Apply(sample()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, listFilter()); diff != "" {
		t.Errorf("Apply changed table inet filter:\n%s", diff)
	}
	if err := c.Reset(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, listFilter()); diff != "" {
		t.Errorf("Reset changed table inet filter:\n%s", diff)
	}
	if ok, err := c.Exists(); err != nil || ok {
		t.Errorf("Exists after Reset = %v, %v; want false", ok, err)
	}
}

// TestAtomicOnKernelError: rulesets the kernel refuses (a jump loop, which
// Validate does not look for; a jump to a missing chain with Validate
// bypassed) leave the previous table exactly as it was.
func TestAtomicOnKernelError(t *testing.T) {
	ns, c := newNS(t)
	if err := c.Apply(sample()); err != nil {
		t.Fatal(err)
	}
	before := inNS(t, ns, "", "nft", "-a", "list", "table", "inet", "leash")

	loop := &ruleset.Ruleset{Chains: []*ruleset.Chain{
		{Name: "a", Rules: []*ruleset.Rule{{Verdict: ruleset.Verdict{Kind: ruleset.Jump, Chain: "b"}}}},
		{Name: "b", Rules: []*ruleset.Rule{{Verdict: ruleset.Verdict{Kind: ruleset.Jump, Chain: "a"}}}},
		{Name: "out", Hook: &ruleset.Hook{Hook: "output"}, Rules: []*ruleset.Rule{{Verdict: ruleset.Verdict{Kind: ruleset.Jump, Chain: "a"}}}},
	}}
	if err := ruleset.Validate(loop); err != nil {
		t.Fatalf("the loop ruleset should pass Validate: %v", err)
	}
	if err := c.Apply(loop); !errors.Is(err, unix.EMLINK) && !errors.Is(err, unix.ELOOP) {
		t.Errorf("Apply(jump loop) = %v, want EMLINK or ELOOP", err)
	}
	missing := &ruleset.Ruleset{Chains: []*ruleset.Chain{
		{Name: "out", Hook: &ruleset.Hook{Hook: "output"}, Rules: []*ruleset.Rule{{Verdict: ruleset.Verdict{Kind: ruleset.Jump, Chain: "nowhere"}}}},
	}}
	if err := c.Apply(missing); err == nil || !strings.Contains(err.Error(), "nowhere") {
		t.Errorf("Apply(jump to missing chain) = %v, want a validation error naming it", err)
	}
	if err := c.apply(context.Background(), missing); err == nil {
		t.Errorf("apply(jump to missing chain) bypassing Validate succeeded, want a kernel error")
	}
	if diff := cmp.Diff(before, inNS(t, ns, "", "nft", "-a", "list", "table", "inet", "leash")); diff != "" {
		t.Errorf("refused Apply changed the table:\n%s", diff)
	}
}

// TestIdempotent: Apply twice gives the same table; Reset twice is fine;
// Read of an absent table is (nil, nil).
func TestIdempotent(t *testing.T) {
	ns, c := newNS(t)
	if err := c.Reset(); err != nil {
		t.Fatalf("Reset of absent table: %v", err)
	}
	for range 2 {
		if err := c.Apply(sample()); err != nil {
			t.Fatal(err)
		}
	}
	first := list(t, ns)
	if err := c.Apply(sample()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first, list(t, ns)); diff != "" {
		t.Errorf("second Apply changed the listing:\n%s", diff)
	}
	for range 2 {
		if err := c.Reset(); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := c.Read()
	if rs != nil || err != nil {
		t.Errorf("Read of absent table = %v, %v; want nil, nil", rs, err)
	}
}

// TestReadReportsTampering: a rule added behind leash's back is reported
// with its chain and handle.
func TestReadReportsTampering(t *testing.T) {
	ns, c := newNS(t)
	if err := c.Apply(sample()); err != nil {
		t.Fatal(err)
	}
	inNS(t, ns, "", "nft", "add", "rule", "inet", "leash", "out", "ip", "saddr", "192.0.2.7", "counter", "accept")
	inNS(t, ns, "", "nft", "add", "set", "inet", "leash", "extra", "{ type ether_addr; }")
	_, err := c.Read()
	var fe *ForeignError
	if !errors.As(err, &fe) {
		t.Fatalf("Read = %v, want a ForeignError", err)
	}
	msg := err.Error()
	for _, want := range []string{"chain out handle", "set extra"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
}

// TestClosedNamespaceHandle: a Conn whose namespace fd was closed, or whose
// fd number now refers to another namespace, refuses to open a socket
// instead of opening it wherever the process is (the host's namespace).
// Only read-only calls are made here, so that a regression cannot change
// any firewall.
func TestClosedNamespaceHandle(t *testing.T) {
	kerneltest.Require(t)
	ns, err := netns.Create(fmt.Sprintf("leash-nft-%d-%d", os.Getpid(), nsSeq.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Open(WithNetNS(ns.Fd()))
	if err != nil {
		ns.Close()
		t.Fatal(err)
	}
	fd := ns.Fd()
	ns.Close()
	if _, err := c.Exists(); err == nil || !strings.Contains(err.Error(), "closed or reused") {
		t.Errorf("Exists after the namespace handle was closed: %v, want a refusal", err)
	}
	other, _ := newNS(t) // its handle often gets the freed number itself
	if other.Fd() != fd {
		if err := unix.Dup3(other.Fd(), fd, unix.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
	}
	if _, err := c.Read(); err == nil || !strings.Contains(err.Error(), "closed or reused") {
		t.Errorf("Read with the fd number reused for another namespace: %v, want a refusal", err)
	}
}

// TestPrepareApply: a prepared replace changes nothing until it is sent,
// nothing when discarded or when its context ended, and is Apply when sent.
func TestPrepareApply(t *testing.T) {
	ns, c := newNS(t)
	old, next := large(10), sample()
	if err := c.Apply(old); err != nil {
		t.Fatal(err)
	}
	before := list(t, ns)
	_, discard, err := c.PrepareApply(context.Background(), next)
	if err != nil {
		t.Fatal(err)
	}
	if got := list(t, ns); got != before {
		t.Fatalf("the table changed before the replace was sent:\n%s", got)
	}
	discard()
	ctx, cancel := context.WithCancel(context.Background())
	send, _, err := c.PrepareApply(ctx, next)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := send(); !errors.Is(err, context.Canceled) {
		t.Errorf("send after the context ended: %v, want context.Canceled", err)
	}
	if got := list(t, ns); got != before {
		t.Fatalf("a discarded or cancelled replace changed the table:\n%s", got)
	}
	send, _, err = c.PrepareApply(context.Background(), next)
	if err != nil {
		t.Fatal(err)
	}
	if err := send(); err != nil {
		t.Fatal(err)
	}
	requireReadsBack(t, c, next, "after send")
}
