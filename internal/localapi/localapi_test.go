package localapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/leash-dev/leash/internal/clock"
	"github.com/leash-dev/leash/internal/daemon"
	"github.com/leash-dev/leash/internal/engine"
	"github.com/leash-dev/leash/internal/nft"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/policy/policytest"
	"github.com/leash-dev/leash/internal/state"
)

const offline = "version: 1\npolicies:\n  - name: offline\n    users: [oracle]\n    default: deny\n"

// rig is a daemon's engine on a fake kernel it owns (nft.FakeOwner),
// served on a socket in a temporary state directory, and a direct engine
// on the same state directory with a connection that owns nothing.
type rig struct {
	k      *nft.Fake
	daemon *engine.Engine
	direct *engine.Engine
	socket string
	notes  []string
	// ids are the users and groups the daemon's recompile sees.
	ids policytest.IDs
}

func newRig(t *testing.T, allow func(uint32) bool) *rig {
	t.Helper()
	dir := t.TempDir()
	k := nft.NewFake()
	owner := k.Owner()
	clk := clock.NewFake(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	r := &rig{k: k, socket: filepath.Join(dir, SocketName), ids: policytest.DefaultIDs}
	mk := func(kern engine.Kernel) *engine.Engine {
		return &engine.Engine{Store: &state.Store{Dir: dir}, OpenKernel: func() (engine.Kernel, error) { return kern, nil },
			Clock: clk, LockTimeout: time.Second, StartReverter: func(*state.Pending) (int, error) { return 4242, nil },
			Notify: func(msg string) { r.notes = append(r.notes, msg) }}
	}
	r.daemon, r.direct = mk(nil), mk(k)
	daemon.Own(r.daemon, owner) // one connection for the daemon's life
	ln, err := Listen(r.socket)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	srv := &Server{Engine: r.daemon, Daemon: engine.Daemon{PID: 77, Since: clk.Now()}, Owns: func() bool { o, _ := owner.Owns(); return o },
		AllowUID: allow, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Recompile: func(ctx context.Context, cur *state.Generation) (*engine.Compiled, error) {
			return engine.Compile(ctx, policytest.Env(r.ids), cur.PolicyFile, cur.Policy)
		}}
	go func() { defer close(done); _ = srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

func self(uid uint32) bool { return uid == uint32(os.Getuid()) }

func compiled(t *testing.T, src string) *engine.Compiled {
	t.Helper()
	c, err := engine.Compile(context.Background(), policytest.Env(policytest.DefaultIDs), "policy.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func dial(t *testing.T, r *rig) *Client {
	t.Helper()
	c, err := Dial(r.socket)
	if err != nil {
		t.Fatal(err)
	}
	c.Holder = "leash apply policy.yaml"
	return c
}

// TestRoundTrip: every operation through the socket gives what the engine
// gives, and the daemon's owning connection is the one that changes the
// table (a direct engine gets ErrNotOwner).
func TestRoundTrip(t *testing.T) {
	r := newRig(t, self)
	c := dial(t, r)
	ctx := context.Background()

	res, err := c.Apply(ctx, compiled(t, offline), engine.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&engine.ApplyResult{Generation: 1}, res); diff != "" {
		t.Errorf("Apply (-want +got):\n%s", diff)
	}
	if !r.k.Owned() {
		t.Error("the table applied through the daemon is not owned")
	}
	if _, err := r.direct.Reset(ctx); !errors.Is(err, nft.ErrNotOwner) {
		t.Errorf("direct Reset while the daemon owns the table: %v; want ErrNotOwner", err)
	}

	// The same status, with the daemon named.
	want, err := r.daemon.Status()
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Status()
	if err != nil {
		t.Fatal(err)
	}
	want.Daemon = &engine.Daemon{PID: 77, Since: got.Daemon.Since, OwnsTable: true, Socket: r.socket}
	want.Generation.Policy = nil // stored beside the generation, not sent
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b error) bool { return (a == nil) == (b == nil) })); diff != "" {
		t.Errorf("Status (-direct +through the socket):\n%s", diff)
	}

	// A confirmation: pending, confirmed.
	res, err = c.Apply(ctx, compiled(t, strings.Replace(offline, "deny", "reject", 1)), engine.ApplyOptions{Confirm: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if res.Pending == nil || res.Pending.Generation != 2 || res.Pending.ReverterPID != 4242 || res.RevertsTo == nil || res.RevertsTo.ID != 1 {
		t.Errorf("Apply --confirm = %+v; want generation 2 pending, reverting to 1", res)
	}
	conf, err := c.Confirm(ctx)
	if err != nil || conf.Confirmed != 2 || conf.Pending == nil {
		t.Errorf("Confirm = %+v, %v", conf, err)
	}
	// Errors keep their identity: nothing pending.
	if _, err := c.Confirm(ctx); !errors.Is(err, engine.ErrNothingPending) {
		t.Errorf("second Confirm: %v; want ErrNothingPending", err)
	}

	rb, err := c.Rollback(ctx, 1)
	if err != nil || rb.Generation != 3 || rb.Target == nil || rb.Target.ID != 1 {
		t.Errorf("Rollback = %+v, %v", rb, err)
	}
	id, err := c.Reset(ctx)
	if err != nil || id != 4 || r.k.Table() != nil {
		t.Errorf("Reset = %d, %v (table %v)", id, err, r.k.Table() != nil)
	}
}

// TestReapplyThroughTheDaemon: leash reapply while the daemon owns the
// table is the daemon's reapply, with the daemon's users and groups.
func TestReapplyThroughTheDaemon(t *testing.T) {
	r := newRig(t, self)
	c := dial(t, r)
	ctx := context.Background()
	if _, err := c.Apply(ctx, compiled(t, offline), engine.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := c.Reapply(ctx, nil)
	if err != nil || res.Changed || res.Nothing != "" || res.Source == nil || res.Source.ID != 1 {
		t.Fatalf("Reapply with nothing changed = %+v, %v; want no change of generation 1", res, err)
	}
	r.ids.Oracle = 2012 // oracle's uid moved in the daemon's user database
	res, err = c.Reapply(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || res.Generation != 2 || res.Summary == "" || !strings.Contains(res.Diff, "2012") {
		t.Errorf("Reapply after oracle moved = %+v; want generation 2 with 2012 in the diff", res)
	}
	if !r.k.Owned() {
		t.Error("the reapplied table is not owned by the daemon")
	}
	if _, err := r.direct.Reapply(ctx, func(ctx context.Context, cur *state.Generation) (*engine.Compiled, error) {
		return engine.Compile(ctx, policytest.Env(policytest.DefaultIDs), cur.PolicyFile, cur.Policy)
	}); !errors.Is(err, nft.ErrNotOwner) {
		t.Errorf("direct Reapply while the daemon owns the table: %v; want ErrNotOwner", err)
	}
}

// TestErrorsCrossIntact: a policy's errors (FILE:LINE:COL, exit 2) and the
// sentinels exit statuses depend on come back as themselves.
func TestErrorsCrossIntact(t *testing.T) {
	pl := policy.ErrorList{{Pos: policy.Pos{File: "p.yaml", Line: 5, Col: 13}, Msg: `unknown user "nosuchuser"`}}
	for _, tc := range []struct {
		name string
		err  error
		is   []error
	}{
		{name: "interrupted", err: engine.ErrInterrupted, is: []error{engine.ErrInterrupted}},
		{name: "not owner", err: errors.Join(errors.New("apply"), nft.ErrNotOwner), is: []error{nft.ErrNotOwner}},
		{name: "no generation", err: state.ErrNone, is: []error{state.ErrNone}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := encodeError(tc.err).decode()
			if got.Error() != tc.err.Error() {
				t.Errorf("message %q, want %q", got, tc.err)
			}
			for _, s := range tc.is {
				if !errors.Is(got, s) {
					t.Errorf("%v is not %v", got, s)
				}
			}
		})
	}
	var gotList policy.ErrorList
	if err := encodeError(pl).decode(); !errors.As(err, &gotList) || gotList[0].Error() != "p.yaml:5:13: unknown user \"nosuchuser\"" {
		t.Errorf("policy errors came back as %v", err)
	}
}

// TestOnlyAllowedPeers: a caller whose uid is not allowed is refused
// (SO_PEERCRED), and changes nothing.
func TestOnlyAllowedPeers(t *testing.T) {
	r := newRig(t, func(uint32) bool { return false })
	c := dial(t, r)
	_, err := c.Apply(context.Background(), compiled(t, offline), engine.ApplyOptions{})
	if err == nil || !strings.Contains(err.Error(), "only root may use its socket") {
		t.Errorf("Apply by a refused peer: %v", err)
	}
	if r.k.Table() != nil {
		t.Error("a refused peer changed the table")
	}
	if fi, err := os.Stat(r.socket); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
}

// TestNoDaemon: no socket, or one a killed daemon left, is ErrNoDaemon;
// Listen replaces the stale socket but refuses to take a live one.
func TestNoDaemon(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, SocketName)
	if _, err := Dial(sock); !errors.Is(err, ErrNoDaemon) {
		t.Errorf("Dial with no socket: %v; want ErrNoDaemon", err)
	}
	// A stale socket: bound, then its listener gone without unlinking.
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := Dial(sock); !errors.Is(err, ErrNoDaemon) {
		t.Errorf("Dial with a stale socket: %v; want ErrNoDaemon", err)
	}
	live, err := Listen(sock)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	defer live.Close()
	if _, err := Listen(sock); err == nil || !strings.Contains(err.Error(), "another leash daemon") {
		t.Errorf("Listen over a live socket: %v", err)
	}
}
