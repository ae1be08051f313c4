package sandbox_test

import (
	"context"
	"log/slog"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leash-dev/leash/internal/kerneltest"
	"github.com/leash-dev/leash/internal/sandbox"
	"github.com/leash-dev/leash/internal/sandbox/sandboxtest"
)

// deniedTimeout is the probe timeout where traffic is expected not to pass.
const deniedTimeout = 300 * time.Millisecond

// Test users: "owner" has the team group as primary group, "member" has it
// as a supplementary group. The uid range is this package's own.
const (
	ownerUID  = 64001
	memberUID = 64002
	teamGID   = 64100
)

// target is one destination the tests probe, named for messages and maps.
type target struct {
	name  string
	proto string
	addr  string
	port  uint16
}

// targets are outside every sandbox subnet: the peer answers them all.
func targets() []target {
	return []target{
		{"tcp4", sandbox.TCP, "203.0.113.9", 443},
		{"udp4", sandbox.UDP, "203.0.113.9", 443},
		{"tcp6", sandbox.TCP, "2001:db8::1", 53},
		{"udp6", sandbox.UDP, "2001:db8::1", 53},
		{"icmp", sandbox.ICMP, "198.51.100.7", 0},
		{"icmpv6", sandbox.ICMPv6, "2001:db8::7", 0},
	}
}

// creds is who a probe runs as.
type creds struct {
	name     string
	uid, gid uint32
	groups   []uint32
}

func rootCreds() creds { return creds{name: "root"} }

// testUsers creates the owner and member users.
func testUsers(t *testing.T) (owner, member creds) {
	team := sandboxtest.Group{Name: "team", GID: teamGID}
	us := sandboxtest.Users(t,
		sandboxtest.UserSpec{Name: "owner", UID: ownerUID, Primary: team},
		sandboxtest.UserSpec{Name: "member", UID: memberUID, Supplementary: []sandboxtest.Group{team}},
	)
	return creds{us[0].Name, us[0].UID, us[0].GID, us[0].Groups}, creds{us[1].Name, us[1].UID, us[1].GID, us[1].Groups}
}

// newSandbox builds a sandbox closed at the end of the test.
func newSandbox(t *testing.T, hosts map[string][]netip.Addr) *sandbox.Sandbox {
	t.Helper()
	s, err := sandbox.New(context.Background(), sandbox.Config{
		ProbeCommand: sandboxtest.ProbeBinary(t),
		Hosts:        hosts,
		Logger:       testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// loadRules replaces the client namespace's ruleset with one output chain
// holding rule. Test-only use of the nft binary.
func loadRules(t *testing.T, s *sandbox.Sandbox, rule string) {
	t.Helper()
	ruleset := "flush ruleset\ntable inet t {\n\tchain o {\n\t\ttype filter hook output priority 0\n\t\t" + rule + "\n\t}\n}\n"
	cmd := exec.Command("ip", "netns", "exec", s.Client().Name, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(ruleset)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("load %q: %v: %s", rule, err, out)
	}
}

// probe runs one probe as c and fails the test on error.
func probe(t *testing.T, s *sandbox.Sandbox, c creds, tg target, timeout time.Duration) sandbox.Outcome {
	t.Helper()
	out, err := s.Probe(context.Background(), sandbox.Probe{
		UID: c.uid, GID: c.gid, Groups: c.groups,
		Proto: tg.proto, Addr: netip.MustParseAddr(tg.addr), Port: tg.port, Timeout: timeout,
	})
	if err != nil {
		t.Fatalf("%s as %s: %v", tg.name, c.name, err)
	}
	t.Logf("%-6s as %-11s: %v", tg.name, c.name, out)
	return out
}

// want is an expected verdict and errno ("" for none).
type want struct{ result, errno string }

// expect probes every target named in wants as c, all at once, and compares
// the outcomes with wants.
func expect(t *testing.T, s *sandbox.Sandbox, c creds, timeout time.Duration, wants map[string]want) {
	t.Helper()
	type result struct {
		tg  target
		out sandbox.Outcome
		err error
	}
	results := make(chan result)
	n := 0
	for _, tg := range targets() {
		if _, ok := wants[tg.name]; !ok {
			continue
		}
		n++
		go func() {
			out, err := s.Probe(context.Background(), sandbox.Probe{
				UID: c.uid, GID: c.gid, Groups: c.groups,
				Proto: tg.proto, Addr: netip.MustParseAddr(tg.addr), Port: tg.port, Timeout: timeout,
			})
			results <- result{tg, out, err}
		}()
	}
	for range n {
		r := <-results
		w := wants[r.tg.name]
		switch {
		case r.err != nil:
			t.Errorf("%s as %s: %v", r.tg.name, c.name, r.err)
		case r.out.Result != w.result || r.out.Errno != w.errno:
			t.Errorf("%s as %s = %s/%s, want %s/%s", r.tg.name, c.name, r.out.Result, r.out.Errno, w.result, w.errno)
		default:
			t.Logf("%-6s as %-11s: %v", r.tg.name, c.name, r.out)
		}
	}
}

// allConnected is the expectation when nothing filters c.
func allConnected() map[string]want {
	m := map[string]want{}
	for _, tg := range targets() {
		m[tg.name] = want{sandbox.Connected, ""}
	}
	return m
}

func TestTrafficFlowsWithoutFirewall(t *testing.T) {
	kerneltest.Require(t)
	owner, member := testUsers(t)
	s := newSandbox(t, nil)
	for _, c := range []creds{rootCreds(), owner, member} {
		expect(t, s, c, time.Second, allConnected())
	}
}

func TestProbeRunsWithRequestedCredentials(t *testing.T) {
	kerneltest.Require(t)
	_, member := testUsers(t)
	s := newSandbox(t, nil)
	out := probe(t, s, member, targets()[0], time.Second)
	if out.UID != member.uid || out.GID != member.gid || !slices.Equal(out.Groups, member.groups) {
		t.Errorf("probe ran as uid %d gid %d groups %v, want %d %d %v", out.UID, out.GID, out.Groups, member.uid, member.gid, member.groups)
	}
}

func TestDropByUIDBlocksOnlyThatUID(t *testing.T) {
	kerneltest.Require(t)
	owner, _ := testUsers(t)
	s := newSandbox(t, nil)
	loadRules(t, s, "meta skuid 64001 drop")
	expect(t, s, owner, deniedTimeout, map[string]want{
		"tcp4":   {sandbox.Timeout, ""}, // SYN dropped: connect retries
		"tcp6":   {sandbox.Timeout, ""},
		"udp4":   {sandbox.Blocked, "EPERM"}, // send() fails at once
		"udp6":   {sandbox.Blocked, "EPERM"},
		"icmp":   {sandbox.Blocked, "EPERM"},
		"icmpv6": {sandbox.Timeout, ""}, // ping6 send ignores the drop
	})
	expect(t, s, rootCreds(), time.Second, allConnected())
}

func TestRejectWithTCPResetIsRefusedQuickly(t *testing.T) {
	kerneltest.Require(t)
	owner, _ := testUsers(t)
	s := newSandbox(t, nil)
	loadRules(t, s, "meta skuid 64001 meta l4proto tcp reject with tcp reset")
	for _, tg := range targets()[:4] {
		out := probe(t, s, owner, tg, deniedTimeout)
		wantRes, wantErrno := sandbox.Connected, ""
		if tg.proto == sandbox.TCP {
			wantRes, wantErrno = sandbox.Refused, "ECONNREFUSED"
		}
		if out.Result != wantRes || out.Errno != wantErrno {
			t.Errorf("%s = %s/%s, want %s/%s", tg.name, out.Result, out.Errno, wantRes, wantErrno)
		}
		if out.Elapsed > deniedTimeout/2 {
			t.Errorf("%s took %v, want a quick answer", tg.name, out.Elapsed)
		}
	}
	expect(t, s, rootCreds(), time.Second, allConnected())
}

func TestRejectAdminProhibited(t *testing.T) {
	kerneltest.Require(t)
	owner, _ := testUsers(t)
	s := newSandbox(t, nil)
	loadRules(t, s, "meta skuid 64001 reject with icmpx admin-prohibited")
	expect(t, s, owner, deniedTimeout, map[string]want{
		"tcp4":   {sandbox.Blocked, "EHOSTUNREACH"},
		"tcp6":   {sandbox.Timeout, ""}, // the ICMPv6 error does not fail connect()
		"udp4":   {sandbox.Blocked, "EPERM"},
		"udp6":   {sandbox.Blocked, "EPERM"},
		"icmp":   {sandbox.Blocked, "EPERM"},
		"icmpv6": {sandbox.Blocked, "EACCES"},
	})
}

func TestDropByGIDAppliesPrimaryGroupOnly(t *testing.T) {
	kerneltest.Require(t)
	owner, member := testUsers(t)
	s := newSandbox(t, nil)
	loadRules(t, s, "meta skgid 64100 drop")
	tcp4 := targets()[0]
	if out := probe(t, s, owner, tcp4, deniedTimeout); out.Allowed() {
		t.Errorf("owner (primary gid %d) connected through a skgid %d drop", owner.gid, teamGID)
	}
	// skgid is the socket's fsgid: a supplementary group does not match.
	out := probe(t, s, member, tcp4, time.Second)
	if !out.Allowed() || !slices.Contains(out.Groups, teamGID) {
		t.Errorf("member = %v with groups %v, want connected with supplementary group %d", out, out.Groups, teamGID)
	}
	if out := probe(t, s, rootCreds(), tcp4, time.Second); !out.Allowed() {
		t.Errorf("root = %v, want connected", out)
	}
}

// testLogger sends the sandbox's debug log to the test log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}
