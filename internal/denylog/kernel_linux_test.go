package denylog

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/identity"
	"github.com/leash-dev/leash/internal/netns"
	"github.com/leash-dev/leash/internal/nft"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/resolve"
	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/sandbox/sandboxtest"
	"github.com/leash-dev/leash/internal/state"
)

// Test users of this package (ids distinct from other packages' tests).
const (
	testUID  = 64501
	floodUID = 64502
	testGrp  = 4243 // not the default, to show the group is an option
)

// testPolicy is compiled and applied like `leash apply` does. %[1]d is the
// group, %[2]s the log rate and %[3]d the burst. Loopback is judged by the
// rules, so traffic to the namespace's own addresses is denied.
const testPolicy = `version: 1
baseline:
  loopback: rules
  log: {group: %[1]d, rate: %[2]s, burst: %[3]d}
policies:
  - name: dlog
    users: [lsht-dlog]
    rules:
      - deny: {to: [mail.example.com], ports: [8080/tcp], log: true}
    default: reject
  - name: flood
    users: [lsht-dflood]
    default: deny
`

// kernelEnv is a namespace with the test users, a state store and the
// directory and hosts the policy is compiled with.
type kernelEnv struct {
	ns    *netns.NS
	store *state.Store
	dir   *identity.Directory
}

func newKernelEnv(t *testing.T) *kernelEnv {
	t.Helper()
	ns := testNS(t)
	sandboxtest.Users(t,
		sandboxtest.UserSpec{Name: "dlog", UID: testUID},
		sandboxtest.UserSpec{Name: "dflood", UID: floodUID},
	)
	return &kernelEnv{
		ns:    ns,
		store: &state.Store{Dir: t.TempDir()},
		dir: &identity.Directory{
			Users: []identity.User{
				{Name: sandboxtest.Prefix + "dlog", UID: testUID, GID: testUID},
				{Name: sandboxtest.Prefix + "dflood", UID: floodUID, GID: floodUID},
			},
			Groups: []identity.Group{{Name: sandboxtest.Prefix + "dlog", GID: testUID}, {Name: sandboxtest.Prefix + "dflood", GID: floodUID}},
		},
	}
}

// apply compiles the test policy, enforces it in the namespace and stores
// it as the current generation, as `leash apply --netns` does.
func (k *kernelEnv) apply(t *testing.T, rate string, burst int) {
	t.Helper()
	src := fmt.Sprintf(testPolicy, testGrp, rate, burst)
	hosts := resolve.Static(map[string][]netip.Addr{"mail.example.com": {netip.MustParseAddr("10.99.0.1"), netip.MustParseAddr("fd99::1")}})
	res, err := policy.Load(context.Background(), "test.yaml", []byte(src), policy.Env{Directory: k.dir, Resolver: hosts})
	if err != nil {
		t.Fatal(err)
	}
	rs := compile.Compile(res)
	if err := ruleset.Validate(rs); err != nil {
		t.Fatal(err)
	}
	conn, err := nft.OpenNetNS(k.ns.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Apply(rs); err != nil {
		t.Fatal(err)
	}
	stored := map[string][]string{}
	for n, addrs := range res.Hosts {
		for _, a := range addrs {
			stored[n] = append(stored[n], a.String())
		}
	}
	if _, err := k.store.Save(&state.Generation{Meta: state.Meta{Time: time.Now(), PolicyFile: "test.yaml"}, Ruleset: rs, Hosts: stored, Policy: []byte(src)}); err != nil {
		t.Fatal(err)
	}
}

func (k *kernelEnv) enricher(t *testing.T, procs ProcessFinder) *Enricher {
	return &Enricher{
		Users:     UserNames(k.dir),
		Processes: procs,
		Rules:     (&CurrentRules{Store: k.store, Now: time.Now, Every: time.Second}).Book,
	}
}

// logCounter reads the packets counted by the logging rule whose prefix
// starts with "leash " + id.
func logCounter(t *testing.T, ns *netns.NS, id string) uint64 {
	t.Helper()
	out := nftCLI(t, ns, "", "list", "table", "inet", "leash")
	re := regexp.MustCompile(`counter packets (\d+) bytes \d+ log prefix "leash ` + regexp.QuoteMeta(id) + ` `)
	m := re.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no log counter for %s in:\n%s", id, out)
	}
	n, _ := strconv.ParseUint(m[1], 10, 64)
	return n
}

// collector runs a pipeline over a reader of the test group in ns and
// gathers its records until stop is called.
type collector struct {
	records
	reader *Reader
	start  func()
	stop   func() error
}

// collect binds the test group in ns and starts a pipeline over it.
func collect(t *testing.T, ns *netns.NS, en *Enricher, cfg ReaderConfig) *collector {
	t.Helper()
	c := bind(t, ns, en, cfg)
	c.start()
	return c
}

// bind binds the test group in ns; the pipeline reads it once start is
// called (until then messages pile up in the reader and the socket).
func bind(t *testing.T, ns *netns.NS, en *Enricher, cfg ReaderConfig) *collector {
	t.Helper()
	cfg.NetNS, cfg.Group = ns.Name, testGrp
	r, err := OpenReader(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := NewPipeline(en, time.Now, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	c := &collector{reader: r}
	done := make(chan error, 1)
	var started sync.Once
	c.start = func() {
		started.Do(func() { go func() { done <- p.Run(ctx, r, c.emit, nil) }() })
	}
	var once sync.Once
	var runErr error
	c.stop = func() error {
		once.Do(func() {
			time.Sleep(300 * time.Millisecond) // the kernel's last batch
			c.start()
			cancel()
			runErr = <-done
			r.Close()
		})
		return runErr
	}
	t.Cleanup(func() { c.stop() })
	return c
}

// split returns the events by rule id and the total lost.
// A PhaseMore record takes the place of its attempt's first record, so
// that each attempt is one event with its packet count.
func split(rs []Record) (byRule map[string][]*Event, lost uint64, losses int) {
	byRule = map[string][]*Event{}
	for _, r := range rs {
		if e := r.Event; e != nil {
			es := byRule[e.RuleID]
			if i := firstOf(es, e); e.Phase == PhaseMore && i >= 0 {
				es[i] = e
			} else {
				byRule[e.RuleID] = append(es, e)
			}
		} else {
			lost += r.Loss.Lost
			losses++
		}
	}
	return byRule, lost, losses
}

// firstOf is the index in es of the first record of more's attempt (-1).
func firstOf(es []*Event, more *Event) int {
	for i := len(es) - 1; i >= 0; i-- {
		if e := es[i]; e.Phase == PhaseFirst && e.Time.Equal(more.Time) && e.Src == more.Src && e.Dst == more.Dst {
			return i
		}
	}
	return -1
}

// TestKernelDenials: a compiled policy in a test namespace; one denied TCP
// connect and one denied UDP send by a real test user each make exactly one
// event with the user, process, destination and policy line; a flood of
// denied datagrams is capped by the kernel's rate limit, and nothing is
// lost on the way.
func TestKernelDenials(t *testing.T) {
	k := newKernelEnv(t)
	k.apply(t, "10/second", 20)
	owners, err := OpenSocketOwners(k.ns.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer owners.Close()
	c := collect(t, k.ns, k.enricher(t, owners), ReaderConfig{})

	// A connect to a denied port: the SYN and its retransmission after 1 s.
	if err := child(t, k.ns, testUID, "tcp 10.99.0.1:8080 1 1500ms").Wait(); err != nil {
		t.Fatal(err)
	}
	// A datagram the policy's default rejects; the socket stays a moment.
	if err := child(t, k.ns, testUID, "udp [fd99::1]:5353 1 500ms").Wait(); err != nil {
		t.Fatal(err)
	}
	// The flood: 5,000 datagrams, each from a new socket (a new attempt).
	start := time.Now()
	if err := child(t, k.ns, floodUID, "udpeach 10.99.0.1:9 5000 0s").Wait(); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	if err := c.stop(); err != nil {
		t.Fatal(err)
	}
	records := c.get()
	byRule, lost, _ := split(records)
	user := sandboxtest.Prefix + "dlog"
	// The TCP attempt is reported at its first SYN, before the UDP send
	// that follows it; its retransmissions, if any, after the attempt.
	order := map[string]int{}
	for i, r := range records {
		if e := r.Event; e != nil && (e.RuleID == "dlog/r1" || e.RuleID == "dlog/default") {
			if _, seen := order[e.RuleID+"/"+e.Phase]; !seen {
				order[e.RuleID+"/"+e.Phase] = i
			}
		}
	}
	if tcp, udp := order["dlog/r1/"+PhaseFirst], order["dlog/default/"+PhaseFirst]; tcp >= udp {
		t.Errorf("the TCP attempt's first record (#%d) comes after the UDP one's (#%d): not reported at once", tcp, udp)
	}
	if more, ok := order["dlog/r1/"+PhaseMore]; ok && more < order["dlog/default/"+PhaseFirst] {
		t.Errorf("the TCP attempt's count (#%d) came before it was over", more)
	}

	tcp := byRule["dlog/r1"]
	if len(tcp) != 1 {
		t.Fatalf("TCP connect: %d events, want exactly 1: %+v", len(tcp), tcp)
	}
	checkEvent(t, tcp[0], Event{UID: uid(testUID), User: user, Comm: childComm, Family: "ipv4", Proto: "tcp",
		Dst: ap("10.99.0.1:8080"), RuleID: "dlog/r1", Verdict: VerdictDrop, Policy: "dlog", File: "test.yaml", Line: 9,
		Hostnames: []string{"mail.example.com"}})
	// The SYN, its retransmission after 1 s and, on a slow machine, the one
	// after 3 s all fold into the one attempt.
	if a := tcp[0].Attempts; a < 1 || a > 3 {
		t.Errorf("TCP connect held 1.5 s: %d attempts, want 1 to 3", a)
	}

	udp := byRule["dlog/default"]
	if len(udp) != 1 {
		t.Fatalf("UDP send: %d events, want exactly 1: %+v", len(udp), udp)
	}
	checkEvent(t, udp[0], Event{UID: uid(testUID), User: user, Comm: childComm, Family: "ipv6", Proto: "udp",
		Dst: ap("[fd99::1]:5353"), RuleID: "dlog/default", Verdict: VerdictReject, Policy: "dlog", File: "test.yaml", Line: 10,
		Hostnames: []string{"mail.example.com"}})

	var packets uint64
	for _, e := range byRule["flood/default"] {
		packets += uint64(e.Attempts)
		if e.UID == nil || *e.UID != floodUID {
			t.Errorf("flood event of uid %v", e.UID)
		}
	}
	limit := 20 + uint64(10*elapsed.Seconds()+0.5) + 2
	t.Logf("flood: 5000 datagrams in %v; %d logged in %d events; cap burst+rate*t = %d; lost %d", elapsed.Round(time.Millisecond), packets, len(byRule["flood/default"]), limit, lost)
	if packets < 20 || packets > limit {
		t.Errorf("flood logged %d packets, want between the burst (20) and %d", packets, limit)
	}
	if counted := logCounter(t, k.ns, "flood/default"); counted != packets+lost {
		t.Errorf("kernel logged %d packets, the log shows %d (+%d lost)", counted, packets, lost)
	}
	if lost != 0 {
		t.Errorf("%d messages lost under the rate limit", lost)
	}
}

// checkEvent compares the fields of got that want sets.
func checkEvent(t *testing.T, got *Event, want Event) {
	t.Helper()
	if got.UID == nil || *got.UID != *want.UID || got.User != want.User {
		t.Errorf("owner %v %q, want %d %q", got.UID, got.User, *want.UID, want.User)
	}
	if got.Comm != want.Comm || got.PID == 0 || got.Exe == "" {
		t.Errorf("process %d %q %q, want comm %q (%+v)", got.PID, got.Comm, got.Exe, want.Comm, *got)
	}
	if got.Family != want.Family || got.Proto != want.Proto || got.Dst != want.Dst {
		t.Errorf("packet %s %s -> %v, want %s %s -> %v", got.Family, got.Proto, got.Dst, want.Family, want.Proto, want.Dst)
	}
	if got.RuleID != want.RuleID || got.Verdict != want.Verdict || got.Policy != want.Policy || got.File != want.File || got.Line != want.Line {
		t.Errorf("rule %s %s %s %s:%d, want %s %s %s %s:%d", got.RuleID, got.Verdict, got.Policy, got.File, got.Line,
			want.RuleID, want.Verdict, want.Policy, want.File, want.Line)
	}
	if fmt.Sprint(got.Hostnames) != fmt.Sprint(want.Hostnames) {
		t.Errorf("hostnames %v, want %v", got.Hostnames, want.Hostnames)
	}
}

// TestKernelLossAccounting: with no effective rate limit and a reader that
// is not read while a flood arrives, the socket overflows; every message
// the kernel logged is either delivered or counted lost, and the loss is
// reported in the records.
func TestKernelLossAccounting(t *testing.T) {
	k := newKernelEnv(t)
	k.apply(t, "1000000/second", 1000000)
	c := bind(t, k.ns, k.enricher(t, nil), ReaderConfig{QueueLen: 8, ReadBuffer: 32 << 10})

	if err := child(t, k.ns, floodUID, "udp 10.99.0.1:9 5000 0s").Wait(); err != nil {
		t.Fatal(err)
	}
	c.start()
	time.Sleep(500 * time.Millisecond) // drain what was queued
	// One more datagram from a new socket: its sequence number reveals a
	// gap at the end of the flood.
	if err := child(t, k.ns, floodUID, "udp 10.99.0.1:10 1 0s").Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.stop(); err != nil {
		t.Fatal(err)
	}
	byRule, lost, losses := split(c.get())
	var delivered uint64
	for _, e := range byRule["flood/default"] {
		delivered += uint64(e.Attempts)
	}
	counted := logCounter(t, k.ns, "flood/default")
	cs := c.reader.Counters()
	t.Logf("kernel logged %d; delivered %d in %d events; lost %d in %d reports; reader %+v", counted, delivered, len(byRule["flood/default"]), lost, losses, cs)
	if counted != 5001 {
		t.Errorf("kernel logged %d packets, want 5001 (no effective limit)", counted)
	}
	if lost == 0 || losses == 0 {
		t.Errorf("no loss reported although the reader was not read during the flood")
	}
	if delivered+lost != counted {
		t.Errorf("delivered %d + lost %d = %d, but the kernel logged %d", delivered, lost, delivered+lost, counted)
	}
	if cs.Received != delivered || cs.Lost != lost {
		t.Errorf("reader counters %+v disagree with the records (delivered %d, lost %d)", cs, delivered, lost)
	}
}

// Reading a log group must not change the namespace's logger settings:
// go-nflog's bind rebinds the NFPROTO_UNSPEC logger (nf_log.0) as a side
// effect, and the reader puts it back, also when the bind fails.
func TestKernelReaderKeepsLoggerBinding(t *testing.T) {
	ns := testNS(t)
	read := func() string {
		t.Helper()
		b, err := saveLoggerBinding(ns.Name)
		if err != nil {
			t.Fatal(err)
		}
		return b.name
	}
	before := read()
	r, err := OpenReader(ReaderConfig{NetNS: ns.Name, Group: testGrp})
	if err != nil {
		t.Fatal(err)
	}
	if got := read(); got != before {
		t.Errorf("nf_log.0 while reading = %q, want %q as before", got, before)
	}
	_, err = OpenReader(ReaderConfig{NetNS: ns.Name, Group: testGrp})
	if err == nil {
		t.Fatal("a second reader of the same group bound it")
	}
	if got := read(); got != before {
		t.Errorf("nf_log.0 after a failed bind = %q, want %q as before", got, before)
	}
	r.Close()
	if got := read(); got != before {
		t.Errorf("nf_log.0 after the reader closed = %q, want %q as before", got, before)
	}
}
