package denylog

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/state"
)

// fakeSource is a Source whose messages and counters the test controls.
type fakeSource struct {
	msgs chan Message
	done chan struct{}
	mu   sync.Mutex
	c    Counters
	err  error
}

func newFakeSource() *fakeSource {
	return &fakeSource{msgs: make(chan Message, 64), done: make(chan struct{})}
}

func (f *fakeSource) Messages() <-chan Message { return f.msgs }
func (f *fakeSource) Done() <-chan struct{}    { return f.done }
func (f *fakeSource) Counters() Counters {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.c
}
func (f *fakeSource) Err() error   { return f.err }
func (f *fakeSource) Close() error { return nil }
func (f *fakeSource) count(lost, overruns uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.c.Lost += lost
	f.c.Overruns += overruns
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}
func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

type fakeProcesses map[netip.AddrPort]Process

func (f fakeProcesses) FindProcess(_ context.Context, _ uint8, src, _ netip.AddrPort) (Process, error) {
	if p, ok := f[src]; ok {
		return p, nil
	}
	return Process{}, errors.New("no such socket")
}

func tcpMsg(at time.Time, u uint32, src, dst string, prefix string) Message {
	s, d := ap(src), ap(dst)
	return Message{Time: at, Prefix: prefix, UID: uid(u), GID: uid(u),
		Payload: ip4(protoTCP, s.Addr().String(), d.Addr().String(), 0, 0, ports(s.Port(), d.Port()))}
}

func testBook() *RuleBook {
	return NewRuleBook(&state.Generation{
		Ruleset: &ruleset.Ruleset{Chains: []*ruleset.Chain{{Name: "p_webmail", Rules: []*ruleset.Rule{
			{Origin: ruleset.Origin{ID: "webmail/default", Policy: "webmail", What: "default", File: "examples/webmail.yaml", Line: 14, Col: 14, Text: "default: reject"}},
		}}}},
		Hosts: map[string][]string{"mail.example.com": {"192.0.2.10", "2001:db8::a"}, "smtp.example.com": {"192.0.2.10"}},
	})
}

// records collects what a pipeline emits.
type records struct {
	mu sync.Mutex
	rs []Record
}

func (r *records) emit(rec Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rs = append(r.rs, rec)
	return nil
}

func (r *records) get() []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Record(nil), r.rs...)
}

func TestPipeline(t *testing.T) {
	clock := &fakeClock{now: t0}
	en := &Enricher{
		Users:     func(u uint32) (string, bool) { return map[uint32]string{2001: "apache"}[u], u == 2001 },
		Processes: fakeProcesses{ap("10.0.0.1:40000"): {PID: 4242, Comm: "curl", Exe: "/usr/bin/curl", Unit: "cron.service"}},
		Rules:     testBook,
	}
	p := NewPipeline(en, clock.Now, slog.New(slog.DiscardHandler))
	p.Tick = time.Millisecond
	src := newFakeSource()
	var out records
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, src, out.emit, nil) }()

	const prefix = "leash webmail/default reject"
	// A SYN and its retransmission 1 s later: one attempt.
	src.msgs <- tcpMsg(t0, 2001, "10.0.0.1:40000", "192.0.2.10:80", prefix)
	src.msgs <- tcpMsg(t0.Add(time.Second), 2001, "10.0.0.1:40000", "192.0.2.10:80", prefix)
	// Another tool's message on the group is ignored.
	src.msgs <- Message{Time: t0, Prefix: "IPTABLES DROP: "}
	// A packet of an unknown uid, whose socket is gone.
	src.msgs <- tcpMsg(t0.Add(2*time.Second), 3000, "10.0.0.1:40001", "198.51.100.1:22", "leash other/r2 drop")
	// Each attempt is reported at its first packet, before it is over.
	waitFor(t, func() bool { return len(out.get()) >= 2 })
	// 37 messages dropped by the kernel, seen as a gap with 2 overflow reports.
	src.count(37, 2)
	waitFor(t, func() bool { return len(out.get()) >= 3 }) // the loss report comes at the next tick
	clock.Set(t0.Add(10 * time.Second))                    // the attempts are over
	waitFor(t, func() bool { return len(out.get()) >= 4 })
	// An overflow without a later message is reported at the end.
	src.count(0, 1)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	apache := Event{
		Type: TypeDeny, Time: t0, UID: uid(2001), User: "apache", GID: uid(2001),
		PID: 4242, Comm: "curl", Exe: "/usr/bin/curl", Unit: "cron.service",
		Family: "ipv4", Proto: "tcp", Src: ap("10.0.0.1:40000"), Dst: ap("192.0.2.10:80"),
		RuleID: "webmail/default", Verdict: VerdictReject, Policy: "webmail", File: "examples/webmail.yaml", Line: 14, Text: "default: reject",
		Hostnames: []string{"mail.example.com", "smtp.example.com"}, Attempts: 1, Phase: PhaseFirst,
	}
	apacheMore := apache
	apacheMore.Attempts, apacheMore.Last, apacheMore.Phase = 2, t0.Add(time.Second), PhaseMore
	want := []Record{
		{Event: &apache}, // at once, at the first SYN
		{Event: &Event{
			Type: TypeDeny, Time: t0.Add(2 * time.Second), UID: uid(3000), GID: uid(3000),
			Family: "ipv4", Proto: "tcp", Src: ap("10.0.0.1:40001"), Dst: ap("198.51.100.1:22"),
			RuleID: "other/r2", Verdict: VerdictDrop, Attempts: 1, Phase: PhaseFirst,
		}},
		{Loss: &Loss{Type: TypeLost, Time: t0, Lost: 37, Overruns: 2, Reason: ReasonOverflow}},
		{Event: &apacheMore}, // the retransmission, once the attempt is over; the single-packet one has no second record
		{Loss: &Loss{Type: TypeLost, Time: t0.Add(10 * time.Second), Overruns: 1, Reason: ReasonUnknown}},
	}
	if diff := cmp.Diff(want, out.get(), cmpopts.EquateComparable(netip.AddrPort{})); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if p.foreign != 1 {
		t.Errorf("foreign = %d, want 1", p.foreign)
	}
}

// TestPipelineSourceStops: when the source fails, queued messages are still
// handled, open attempts flushed, and the source's error returned.
func TestPipelineSourceStops(t *testing.T) {
	clock := &fakeClock{now: t0}
	p := NewPipeline(&Enricher{}, clock.Now, slog.New(slog.DiscardHandler))
	src := newFakeSource()
	src.msgs <- tcpMsg(t0, 1, "10.0.0.1:1", "192.0.2.1:2", "leash p/r1 drop")
	src.err = errors.New("socket gone")
	close(src.done)
	var out records
	err := p.Run(context.Background(), src, out.emit, nil)
	if err == nil || err.Error() != "socket gone" {
		t.Fatalf("Run = %v, want the source's error", err)
	}
	if got := rules(out.get()); !cmp.Equal(got, []string{"p/r1"}) {
		t.Errorf("records = %v", got)
	}
}

func TestPipelineUndecodable(t *testing.T) {
	p := NewPipeline(&Enricher{}, time.Now, slog.New(slog.DiscardHandler))
	es := p.handle(context.Background(), Message{Time: t0, Prefix: "leash p/r1 drop", Payload: []byte{0x45, 0}}, false)
	es = append(es, more(p.Coalescer.Flush())...)
	if len(es) != 1 || es[0].RuleID != "p/r1" || es[0].Note == "" {
		t.Fatalf("undecodable packet: %+v", es)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}
