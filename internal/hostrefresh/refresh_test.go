package hostrefresh

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/leash-dev/leash/internal/clock"
	"github.com/leash-dev/leash/internal/drift"
	"github.com/leash-dev/leash/internal/engine"
	"github.com/leash-dev/leash/internal/nft"
	"github.com/leash-dev/leash/internal/policy/policytest"
	"github.com/leash-dev/leash/internal/resolve"
	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/state"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

var addrCmp = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

const mailPolicy = `version: 1
policies:
  - name: webmail
    users: [apache]
    rules:
      - allow: {to: [mail.example.com], ports: [25/tcp]}
    default: reject
`

// fakeDNS answers from a table that tests change; a name with an error
// fails.
type fakeDNS struct {
	mu      sync.Mutex
	answers map[string][]netip.Addr
	ttl     time.Duration
	err     error
	asked   int
}

func (f *fakeDNS) LookupHostTTL(_ context.Context, host string) ([]netip.Addr, time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked++
	if f.err != nil {
		return nil, 0, f.err
	}
	return slices.Clone(f.answers[host]), f.ttl, nil
}

type fakeConns map[netip.Addr]bool

func (c fakeConns) Live(context.Context) (map[netip.Addr]bool, error) { return c, nil }

// countingUpdater is EngineUpdater that records every result.
type countingUpdater struct {
	u       EngineUpdater
	results []*engine.HostsResult
}

func (u *countingUpdater) RefreshHosts(ctx context.Context, answers map[string][]netip.Addr) (*engine.HostsResult, error) {
	res, err := u.u.RefreshHosts(ctx, answers)
	if err == nil {
		u.results = append(u.results, res)
	}
	return res, err
}

// ops is the element changes of the updates since the last call.
func (u *countingUpdater) ops() []int {
	var out []int
	for _, r := range u.results {
		out = append(out, r.Ops)
	}
	u.results = nil
	return out
}

type setup struct {
	k     *nft.Fake
	clk   *clock.Fake
	store *state.Store
	e     *engine.Engine
	dns   *fakeDNS
	conns fakeConns
	upd   *countingUpdater
	// failures counts the failed lookups Observe was told of.
	failures int
}

func newSetup(t *testing.T) *setup {
	t.Helper()
	s := &setup{k: nft.NewFake(), clk: clock.NewFake(t0), store: &state.Store{Dir: t.TempDir()},
		dns: &fakeDNS{answers: map[string][]netip.Addr{}, ttl: 60 * time.Second}, conns: fakeConns{}}
	e := &engine.Engine{Store: s.store, OpenKernel: func() (engine.Kernel, error) { return s.k, nil }, Clock: s.clk, LockTimeout: 100 * time.Millisecond}
	c, err := engine.Compile(context.Background(), policytest.Env(policytest.DefaultIDs), "webmail.yaml", []byte(mailPolicy))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(context.Background(), c, engine.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	s.e = e
	s.upd = &countingUpdater{u: EngineUpdater{Engine: e, Compile: func(ctx context.Context, path string, src []byte, r resolve.Resolver) (*engine.Compiled, error) {
		env := policytest.Env(policytest.DefaultIDs)
		env.Resolver = r
		return engine.Compile(ctx, env, path, src)
	}}}
	return s
}

func (s *setup) refresher(cfg Config) *Refresher {
	cfg.Resolver, cfg.Conns, cfg.Updater, cfg.Store, cfg.Clock = s.dns, s.conns, s.upd, s.store, s.clk
	cfg.Observe = func(err error, _ time.Duration) {
		if err != nil {
			s.failures++
		}
	}
	return New(cfg)
}

// kernel is a set's addresses in the fake kernel.
func (s *setup) kernel(t *testing.T, set string) []string {
	t.Helper()
	var out []string
	for _, p := range s.k.Table().Set(set).Prefixes {
		out = append(out, p.Addr().String())
	}
	return out
}

// generation is the generation in force.
func (s *setup) generation(t *testing.T) int {
	t.Helper()
	id, err := s.store.CurrentID()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

// TestRefreshFollowsTTL: a name is refreshed at its TTL, clamped to the
// floor and ceiling; only changed elements are sent, with no new
// generation; a departed address stays for the grace period and while a
// connection to it lives.
func TestRefreshFollowsTTL(t *testing.T) {
	s := newSetup(t)
	const v4, v6 = "webmail_r1_v4", "webmail_r1_v6"
	if diff := cmp.Diff([]string{"192.0.2.25"}, s.kernel(t, v4)); diff != "" {
		t.Fatalf("compiled elements (-want +got):\n%s", diff)
	}
	s.dns.answers["mail.example.com"] = addrs("192.0.2.25", "2001:db8::25")
	r := s.refresher(Config{Floor: 30 * time.Second, Ceiling: 10 * time.Minute, Grace: 2 * time.Minute})
	ctx := context.Background()

	// First step: looked up at once (nothing recorded), TTL 60s.
	next := r.Step(ctx)
	if want := t0.Add(60 * time.Second); !next.Equal(want) {
		t.Errorf("next = %v, want %v", next, want)
	}
	if s.dns.asked != 1 {
		t.Errorf("asked %d times", s.dns.asked)
	}

	// The answer moves: the new address is added, the old one kept.
	s.dns.answers["mail.example.com"] = addrs("192.0.2.26", "2001:db8::25")
	s.clk.Advance(60 * time.Second)
	s.upd.ops()
	r.Step(ctx)
	if diff := cmp.Diff([]int{1}, s.upd.ops()); diff != "" {
		t.Errorf("element changes per update (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"192.0.2.25", "192.0.2.26"}, s.kernel(t, v4)); diff != "" {
		t.Errorf("v4 after the move (-want +got):\n%s", diff)
	}
	// A connection to the old address lives: past grace it stays.
	s.conns[netip.MustParseAddr("192.0.2.25")] = true
	s.clk.Advance(2*time.Minute + time.Second)
	r.Step(ctx)
	if diff := cmp.Diff([]string{"192.0.2.25", "192.0.2.26"}, s.kernel(t, v4)); diff != "" {
		t.Errorf("v4 while a connection lives (-want +got):\n%s", diff)
	}
	// The connection ends: the old address goes, alone.
	delete(s.conns, netip.MustParseAddr("192.0.2.25"))
	s.clk.Advance(30 * time.Second)
	s.upd.ops()
	r.Step(ctx)
	if diff := cmp.Diff([]int{1}, s.upd.ops()); diff != "" {
		t.Errorf("element changes per update (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"192.0.2.26"}, s.kernel(t, v4)); diff != "" {
		t.Errorf("v4 at the end (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"2001:db8::25"}, s.kernel(t, v6)); diff != "" {
		t.Errorf("v6 (-want +got):\n%s", diff)
	}
	if g := s.generation(t); g != 1 {
		t.Errorf("generation %d in force, want 1: a refresh is no new generation", g)
	}
	// The kernel holds what a fresh compile with the answers gives, and
	// what the state says it holds (no drift).
	if st, err := s.e.Status(); err != nil || st.Report.State != drift.InSync {
		t.Errorf("status after refreshes: %+v, %v", st, err)
	}

	// Clamps: a 1s TTL waits for the floor, a day-long one for the ceiling.
	for _, tc := range []struct {
		ttl, want time.Duration
	}{{time.Second, 30 * time.Second}, {24 * time.Hour, 10 * time.Minute}, {0, 10 * time.Minute}} {
		s.dns.ttl = tc.ttl
		s.clk.Advance(time.Hour)
		now := s.clk.Now()
		if next := r.Step(ctx); !next.Equal(now.Add(tc.want)) {
			t.Errorf("ttl %v: next in %v, want %v", tc.ttl, next.Sub(now), tc.want)
		}
	}
}

// TestRefreshNeverEmpties: a DNS failure or an empty answer keeps the last
// good addresses, says why, and retries at the floor; the record survives
// a restart (a new refresher, as after a reboot) with DNS still down.
func TestRefreshNeverEmpties(t *testing.T) {
	s := newSetup(t)
	const v4 = "webmail_r1_v4"
	s.dns.answers["mail.example.com"] = addrs("192.0.2.30")
	r := s.refresher(Config{Floor: 30 * time.Second})
	ctx := context.Background()
	r.Step(ctx)
	s.clk.Advance(5 * time.Minute) // past the grace: 192.0.2.25 goes
	r.Step(ctx)
	if diff := cmp.Diff([]string{"192.0.2.30"}, s.kernel(t, v4)); diff != "" {
		t.Fatalf("v4 (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		name string
		err  error
		ans  []netip.Addr
	}{
		{name: "servers down", err: errors.New("no server answered")},
		{name: "empty answer", ans: nil},
	} {
		s.dns.err, s.dns.answers["mail.example.com"] = tc.err, tc.ans
		s.clk.Advance(time.Hour)
		now := s.clk.Now()
		if next := r.Step(ctx); !next.Equal(now.Add(30 * time.Second)) {
			t.Errorf("%s: retry in %v", tc.name, next.Sub(now))
		}
		if diff := cmp.Diff([]string{"192.0.2.30"}, s.kernel(t, v4)); diff != "" {
			t.Errorf("%s: v4 (-want +got):\n%s", tc.name, diff)
		}
		if h := r.Record().Hosts[0]; h.Error == "" || !h.ErrorAt.Equal(now) {
			t.Errorf("%s: record %+v", tc.name, h)
		}
		if s.failures == 0 {
			t.Errorf("%s: the failure was not observed (metrics)", tc.name)
		}
	}

	// Reboot: the kernel is emptied, restore loads the generation as last
	// refreshed, DNS is down; the record's answer stays.
	s.dns.err = errors.New("no server answered")
	if err := s.k.Reset(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.e.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"192.0.2.30"}, s.kernel(t, v4)); diff != "" {
		t.Errorf("v4 restored at boot (-want +got):\n%s", diff)
	}
	rec, err := s.store.Hosts()
	if err != nil || rec == nil {
		t.Fatalf("record: %v %v", rec, err)
	}
	r2 := s.refresher(Config{Floor: 30 * time.Second})
	r2.Step(ctx)
	got := s.kernel(t, v4)
	if !slices.Contains(got, "192.0.2.30") {
		t.Errorf("after a restart with DNS down, v4 = %v, want the recorded 192.0.2.30 in it", got)
	}
}

// TestRefreshCaps: an answer bigger than MaxAddrs is capped, keeping the
// addresses already in the set.
func TestRefreshCaps(t *testing.T) {
	s := newSetup(t)
	s.dns.answers["mail.example.com"] = addrs("192.0.2.1", "192.0.2.2", "192.0.2.25", "192.0.2.3")
	r := s.refresher(Config{MaxAddrs: 2})
	r.Step(context.Background())
	if diff := cmp.Diff(addrs("192.0.2.1", "192.0.2.25"), r.Record().Hosts[0].Addrs, addrCmp); diff != "" {
		t.Errorf("capped answer (-want +got):\n%s", diff)
	}
}

// TestRefreshAfterReload: the table is flushed and loaded again with the
// same generation (the daemon's repair): the refreshed elements come back,
// not the compiled ones; the kick makes the refresher check, without a
// lookup and with nothing left to change.
func TestRefreshAfterReload(t *testing.T) {
	s := newSetup(t)
	const v4 = "webmail_r1_v4"
	s.dns.answers["mail.example.com"] = addrs("192.0.2.40", "2001:db8::25")
	r := s.refresher(Config{Grace: time.Minute})
	ctx := context.Background()
	r.Step(ctx)
	s.clk.Advance(time.Minute)
	r.Step(ctx)
	if diff := cmp.Diff([]string{"192.0.2.40"}, s.kernel(t, v4)); diff != "" {
		t.Fatalf("v4 (-want +got):\n%s", diff)
	}
	s.k.Tamper(func(rs *ruleset.Ruleset) { rs.Set(v4).Prefixes = nil })
	if res, err := s.e.Repair(ctx); err != nil || !res.Repaired {
		t.Fatalf("repair: %+v, %v", res, err)
	}
	if diff := cmp.Diff([]string{"192.0.2.40"}, s.kernel(t, v4)); diff != "" {
		t.Fatalf("v4 after the repair (-want +got):\n%s", diff)
	}
	asked := s.dns.asked
	s.upd.ops()
	r.resync = true // what a kick does
	r.Step(ctx)
	if diff := cmp.Diff([]string{"192.0.2.40"}, s.kernel(t, v4)); diff != "" {
		t.Errorf("v4 after the reload (-want +got):\n%s", diff)
	}
	if s.dns.asked != asked {
		t.Errorf("the reload looked names up")
	}
	if diff := cmp.Diff([]int{0}, s.upd.ops()); diff != "" {
		t.Errorf("element changes after the reload (-want +got):\n%s", diff)
	}
}

// TestApplyKeepsKept: a plain apply while the record is fresh compiles the
// kept addresses in (WithRecord), so an apply does not cut a connection to
// a departed address; the refresher follows the new generation with the
// address still kept since it left, and drops it after its grace.
func TestApplyKeepsKept(t *testing.T) {
	s := newSetup(t)
	const v4 = "webmail_r1_v4"
	s.dns.answers["mail.example.com"] = addrs("192.0.2.26")
	r := s.refresher(Config{Grace: 2 * time.Minute})
	ctx := context.Background()
	r.Step(ctx)
	if diff := cmp.Diff([]string{"192.0.2.25", "192.0.2.26"}, s.kernel(t, v4)); diff != "" {
		t.Fatalf("v4 after the move (-want +got):\n%s", diff)
	}
	left := r.Record().Hosts[0].Kept[0].Gone

	// A plain apply a minute later (another port: a new generation).
	s.clk.Advance(time.Minute)
	rec, err := s.store.Hosts()
	if err != nil || rec == nil {
		t.Fatalf("record: %v %v", rec, err)
	}
	env := policytest.Env(policytest.DefaultIDs)
	env.Resolver = WithRecord(resolve.Static(map[string][]netip.Addr{"mail.example.com": addrs("192.0.2.26")}), rec, s.clk.Now())
	c, err := engine.Compile(ctx, env, "webmail.yaml", []byte(strings.Replace(mailPolicy, "25/tcp", "587/tcp", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.e.Apply(ctx, c, engine.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"192.0.2.25", "192.0.2.26"}, s.kernel(t, v4)); diff != "" {
		t.Errorf("v4 after the apply (-want +got):\n%s", diff)
	}
	r.Step(ctx)
	if h := r.Record().Hosts[0]; !slices.Equal(h.Addrs, addrs("192.0.2.26")) || len(h.Kept) == 0 || h.Kept[0].Addr != netip.MustParseAddr("192.0.2.25") || !h.Kept[0].Gone.Equal(left) {
		t.Errorf("record after following the apply: %+v, want 192.0.2.26 with 192.0.2.25 kept since %v", h, left)
	}
	s.clk.Advance(time.Minute + time.Second)
	r.Step(ctx)
	if diff := cmp.Diff([]string{"192.0.2.26"}, s.kernel(t, v4)); diff != "" {
		t.Errorf("v4 past the grace (-want +got):\n%s", diff)
	}
}
