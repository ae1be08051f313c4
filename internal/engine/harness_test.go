package engine

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leash-dev/leash/internal/clock"
	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/nft"
	"github.com/leash-dev/leash/internal/policy/policytest"
	"github.com/leash-dev/leash/internal/state"
)

// t0 is when every harness's fake clock starts.
var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// harness is an engine over a temporary state directory, a fake kernel and
// a fake clock: the control plane without root, in milliseconds. Reverters
// run as goroutines with an engine of their own, like the detached
// processes they stand for.
type harness struct {
	t     *testing.T
	k     *nft.Fake
	clk   *clock.Fake
	store *state.Store

	mu        sync.Mutex
	notes     []string
	reverters []chan reverted
	pid       int
	alive     map[int]bool
	// stillborn makes StartReverter return a pid without starting
	// anything: a reverter killed right away.
	stillborn bool
	ctx       context.Context
}

// reverted is how a reverter goroutine ended.
type reverted struct {
	res *RevertResult
	err error
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel) // ends reverters still waiting or retrying
	return &harness{t: t, k: nft.NewFake(), clk: clock.NewFake(t0), store: &state.Store{Dir: t.TempDir()}, alive: map[int]bool{}, ctx: ctx}
}

// engine is a new Engine on the harness, as one leash process would build it.
func (h *harness) engine() *Engine {
	return &Engine{
		Store:         h.store,
		OpenKernel:    func() (Kernel, error) { return h.k, nil },
		Clock:         h.clk,
		StartReverter: h.startReverter,
		ReverterAlive: func(pid int) bool {
			h.mu.Lock()
			defer h.mu.Unlock()
			return h.alive[pid]
		},
		LockTimeout: 100 * time.Millisecond,
		Holder:      "leash test",
		Notify: func(msg string) {
			h.mu.Lock()
			h.notes = append(h.notes, msg)
			h.mu.Unlock()
		},
	}
}

func (h *harness) startReverter(p *state.Pending) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pid++
	pid := 1000 + h.pid
	if h.stillborn {
		return pid, nil
	}
	done := make(chan reverted, 1)
	target := RevertTarget{Generation: p.Generation, Previous: p.Previous, Deadline: p.Deadline}
	h.alive[pid] = true
	go func() {
		res, err := h.engine().RevertPending(h.ctx, target, func(string, ...any) {})
		h.mu.Lock()
		h.alive[pid] = false
		h.mu.Unlock()
		done <- reverted{res, err}
	}()
	h.reverters = append(h.reverters, done)
	return pid, nil
}

// reverter waits (for real, bounded) for the n-th reverter (from 0) to end.
func (h *harness) reverter(n int) reverted {
	h.t.Helper()
	h.mu.Lock()
	if n >= len(h.reverters) {
		h.mu.Unlock()
		h.t.Fatalf("reverter %d was never started (%d were)", n, len(h.reverters))
	}
	ch := h.reverters[n]
	h.mu.Unlock()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		h.t.Fatalf("reverter %d did not end within 5s", n)
		return reverted{}
	}
}

// reverterAdvancing is reverter, while the clock keeps moving a minute
// every few real milliseconds, as time does for reverters that back off
// (two reverters contending for the lock).
func (h *harness) reverterAdvancing(n int) reverted {
	h.t.Helper()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := 0; i < 1000; i++ {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				h.clk.Advance(time.Minute)
			}
		}
	}()
	return h.reverter(n)
}

// waitWaiting blocks (bounded) until n goroutines wait on the fake clock.
func (h *harness) waitWaiting(n int) {
	h.t.Helper()
	for i := 0; i < 2000; i++ {
		if h.clk.Waiters() >= n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	h.t.Fatalf("%d waiters on the fake clock after 2s, want %d", h.clk.Waiters(), n)
}

// notesText is everything Notify received, one per line.
func (h *harness) notesText() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(h.notes, "\n")
}

// policyFor is a small policy denying user oracle, with default for
// everyone else: distinct defaults give distinct tables.
func policyFor(t *testing.T, everyone string) *Compiled {
	t.Helper()
	src := fmt.Sprintf(`version: 1
policies:
  - name: offline
    users: [oracle]
    default: deny
  - name: rest
    everyone: true
    default: %s
`, everyone)
	c, err := Compile(context.Background(), policytest.Env(policytest.DefaultIDs), "policy.yaml", []byte(src))
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return c
}

// kernelHolds fails unless the fake kernel holds c's table (nil: none).
func (h *harness) kernelHolds(c *Compiled) {
	h.t.Helper()
	got := h.k.Table()
	switch {
	case c == nil && got != nil:
		h.t.Fatalf("kernel holds a table, want none:\n%s", h.k.Dump())
	case c == nil:
		return
	case got == nil:
		h.t.Fatalf("kernel holds no table, want %s's", c.Path)
	}
	want, err := kernelFormOf(c)
	if err != nil {
		h.t.Fatal(err)
	}
	// The orphan tag is the engine's choice per generation (orphantag.go),
	// not the policy's.
	d, err := kernelFormOf(&Compiled{Ruleset: got})
	if err != nil {
		h.t.Fatal(err)
	}
	if d != want {
		h.t.Fatalf("kernel table differs:\n got: %s\nwant: %s", d, want)
	}
}

// kernelFormOf is c's table as the fake kernel prints it.
func kernelFormOf(c *Compiled) (string, error) {
	f := nft.NewFake()
	if err := f.Apply(compile.WithOrphanTag(c.Ruleset, compile.FirstOrphanTag)); err != nil {
		return "", err
	}
	return f.Dump(), nil
}

// current is the current generation's id (0: none).
func (h *harness) current() int {
	h.t.Helper()
	id, err := h.store.CurrentID()
	if err != nil {
		return 0
	}
	return id
}
