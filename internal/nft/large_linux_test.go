package nft

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/nftables"

	"github.com/leash-dev/leash/internal/ruleset"
)

// large is a ruleset with n disjoint IPv4 /32s (non-adjacent, so each is
// its own interval) and a uid map of n disjoint entries.
func large(n int) *ruleset.Ruleset {
	s := &ruleset.Set{Name: "big4", Kind: ruleset.KindIPv4}
	m := &ruleset.Map{Name: "users", Key: ruleset.KindUID}
	for i := range n {
		v := uint32(0x0a000000 + 2*i)
		s.Prefixes = append(s.Prefixes, netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), 32))
		m.Entries = append(m.Entries, ruleset.MapEntry{Range: ruleset.Range{Lo: uint32(10000 + 2*i), Hi: uint32(10000 + 2*i)}, Chain: "deny"})
	}
	return &ruleset.Ruleset{
		Sets: []*ruleset.Set{s},
		Maps: []*ruleset.Map{m},
		Chains: []*ruleset.Chain{
			{Name: "deny", Rules: []*ruleset.Rule{
				{Match: []ruleset.Match{{Kind: ruleset.MatchDaddr, Set: "big4"}}, Verdict: ruleset.Verdict{Kind: ruleset.Accept}},
				{Verdict: ruleset.Verdict{Kind: ruleset.Drop}}}},
			{Name: "out", Hook: &ruleset.Hook{Hook: "output"}, Rules: []*ruleset.Rule{
				{Verdict: ruleset.Verdict{Kind: ruleset.VMap, Map: "users"}}}},
		},
	}
}

// TestLargeSets: 100,000 CIDRs and 100,000 uid map entries load in one
// transaction (no ENOBUFS / EMSGSIZE) and read back complete.
func TestLargeSets(t *testing.T) {
	_, c := newNS(t)
	const n = 100_000
	start := time.Now()
	if err := c.Apply(large(n)); err != nil {
		t.Fatal(err)
	}
	t.Logf("Apply: %v", time.Since(start))
	start = time.Now()
	got, err := c.Read()
	t.Logf("Read: %v", time.Since(start))
	if err != nil {
		t.Fatal(err)
	}
	if p, e := len(got.Set("big4").Prefixes), len(got.Map("users").Entries); p != n || e != n {
		t.Errorf("read back %d prefixes and %d map entries, want %d each", p, e, n)
	}
}

// BenchmarkApply measures one Apply (replace) of 100,000 CIDRs plus
// 100,000 uid map entries in a throwaway namespace.
func BenchmarkApply(b *testing.B) {
	_, c := newNS(b)
	rs := large(100_000)
	b.ResetTimer()
	for b.Loop() {
		if err := c.Apply(rs); err != nil {
			b.Fatal(err)
		}
	}
}

// TestReadWhileAnotherWriterReplaces: a second connection replaces the table
// again and again, alternating two layouts whose sets have different names
// (as a daemon's hostname refresh does), each time as soon as a Read has
// returned, so that the next Read runs into it: every Read succeeds and
// returns one of the two tables whole, never a mix of them, an
// "interrupted dump" or a set that vanished between two dumps. (One
// replace per Read: a writer that never pauses starves any reader, which
// then gives up after its bounded retries.)
func TestReadWhileAnotherWriterReplaces(t *testing.T) {
	ns, c := newNS(t)
	w, err := Open(WithNetNS(ns.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	a, b := large(2000), large(2000)
	b.Sets[0].Name = "big4b"
	b.Chains[0].Rules[0].Match[0].Set = "big4b"
	if err := c.Apply(a); err != nil {
		t.Fatal(err)
	}
	const reads = 60
	read := make(chan struct{}, 1)
	halt := inBackground(t, func(i int, stop <-chan struct{}) (bool, error) {
		select {
		case <-stop:
			return false, nil
		case <-read:
		}
		return true, w.Apply([]*ruleset.Ruleset{b, a}[i%2])
	})
	for i := range reads {
		got, err := c.Read()
		if err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		if n := len(got.Sets); n != 1 || len(got.Sets[0].Prefixes) != 2000 || len(got.Map("users").Entries) != 2000 {
			t.Fatalf("read %d: %d sets, want one table whole", i, n)
		}
		select {
		case read <- struct{}{}:
		default:
		}
	}
	if err := halt(); err != nil {
		t.Fatalf("writer: %v", err)
	}
}

// TestReadWhileAnotherTableChurns: another tool commits to its own table
// (family ip, as kube-proxy and Docker's iptables-nft do) thousands of
// times a second, many times during each read of a large table inet leash. Every read
// returns the table whole: commits that leave leash's table alone do not
// make a read start again (snapshot's changeLog). Before, every attempt
// saw the generation move, and Read gave up after 20.
func TestReadWhileAnotherTableChurns(t *testing.T) {
	ns, c := newNS(t)
	const n = 20000
	if err := c.Apply(large(n)); err != nil {
		t.Fatal(err)
	}
	// A lasting connection: dialled once into the namespace, it can never
	// write anywhere else.
	w, err := nftables.New(nftables.WithNetNSFd(ns.Fd()), nftables.AsLasting())
	if err != nil {
		t.Fatal(err)
	}
	tbl := w.AddTable(&nftables.Table{Name: "churn", Family: nftables.TableFamilyIPv4})
	set := &nftables.Set{Table: tbl, Name: "s", KeyType: nftables.TypeIPAddr}
	if err := w.AddSet(set, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.CloseLasting() }) // after the writer stops (cleanups run last first)
	var commits atomic.Int64
	halt := inBackground(t, func(i int, stop <-chan struct{}) (bool, error) {
		select {
		case <-stop:
			return false, nil
		default:
		}
		el := []nftables.SetElement{{Key: []byte{10, 9, byte(i >> 9), byte(i >> 1)}}}
		var err error
		if i%2 == 0 {
			err = w.SetAddElements(set, el)
		} else {
			err = w.SetDeleteElements(set, el)
		}
		if err == nil {
			err = w.Flush()
		}
		commits.Add(1)
		time.Sleep(200 * time.Microsecond) // a busy tool, not a flood
		return true, err
	})
	var during int64
	for i := range 10 {
		before := commits.Load()
		got, err := c.Read()
		if err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		during += commits.Load() - before
		if p, e := len(got.Set("big4").Prefixes), len(got.Map("users").Entries); p != n || e != n {
			t.Fatalf("read %d: %d prefixes and %d map entries, want %d each", i, p, e, n)
		}
	}
	if err := halt(); err != nil {
		t.Fatalf("writer: %v", err)
	}
	t.Logf("%d commits to another table during 10 reads", during)
	if during < 100 {
		t.Errorf("only %d commits to another table during 10 reads: too few to prove anything", during)
	}
}

// inBackground runs step(0), step(1), ... on a goroutine until step says
// no more, fails, or halt is called; halt stops it, waits for it, and
// returns step's error. halt also runs at the end of t (also when t fails),
// and inBackground must be called after the namespace step writes into was
// made: cleanups run last registered first, so the writer stops before the
// namespace goes and never writes anywhere else.
func inBackground(t *testing.T, step func(i int, stop <-chan struct{}) (more bool, err error)) (halt func() error) {
	stop, done := make(chan struct{}), make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			more, err := step(i, stop)
			if err != nil {
				<-stop
			}
			if err != nil || !more {
				done <- err
				return
			}
		}
	}()
	var once sync.Once
	var err error
	halt = func() error { once.Do(func() { close(stop); err = <-done }); return err }
	t.Cleanup(func() { _ = halt() })
	return halt
}
