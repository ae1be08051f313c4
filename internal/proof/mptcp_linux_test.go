package proof_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leash-dev/leash/internal/kerneltest"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/sandbox"
	"golang.org/x/sys/unix"
)

const (
	mptcpUID        = 64293 // restricted (no account needed)
	mptcpFreeUID    = 64294 // named by no policy
	mptcpPort       = 7002
	ipprotoMPTCP    = 262
	mptcpAnnounced  = "203.0.113.77" // the second address the peer announces (the peer answers every address)
	mptcpCountTable = "add table inet count\nadd chain inet count in { type filter hook input priority 0; }\n" +
		"add rule inet count in ip daddr " + mptcpAnnounced + " tcp dport 7002 counter\n"
)

// TestMPTCPJoinSubflows: a restricted user's MPTCP connection to an allowed
// server; the server announces another address (ADD_ADDR) and the client's
// kernel opens a join subflow there from a socket without an owner. With
// mptcp_joins: deny (the default) no packet of it reaches the other
// address, and the connection works over its first subflow; with
// mptcp_joins: unowned (no special rule: the behaviour before the fix)
// the join of the restricted user gets through, and so does an
// unrestricted user's.
func TestMPTCPJoinSubflows(t *testing.T) {
	kerneltest.Require(t)
	for _, tc := range []struct {
		name     string
		baseline string
		uid      int
		joins    bool // a join subflow reaches the announced address
	}{
		{name: "restricted user, mptcp_joins: deny", uid: mptcpUID, joins: false},
		{name: "restricted user, mptcp_joins: unowned", baseline: "  mptcp_joins: unowned\n", uid: mptcpUID, joins: true},
		{name: "unrestricted user, mptcp_joins: unowned", baseline: "  mptcp_joins: unowned\n", uid: mptcpFreeUID, joins: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			peerAddr := sandbox.RemoteAddrs()[0]
			src := fmt.Sprintf(`version: 1
baseline:
  unowned: everyone
%spolicies:
  - name: mp
    users: [{uid: %d}]
    rules:
      - allow: {to: [%s], ports: [%d/tcp]}
    default: deny
`, tc.baseline, mptcpUID, peerAddr, mptcpPort)
			rs := compileFile(t, ctx, "mptcp.yaml", src, policy.Env{})
			sb, k := newSandbox(t, ctx)
			if err := k.Apply(rs); err != nil {
				t.Fatal(err)
			}
			got := mptcpAnnouncing(t, sb)

			fd := mptcpDialAs(t, sb, tc.uid, peerAddr)
			defer unix.Close(fd)
			joined := false
			for deadline := time.Now().Add(4 * time.Second); time.Now().Before(deadline) && !joined; time.Sleep(100 * time.Millisecond) {
				joined = peerCount(t, sb) > 0
			}
			if _, err := unix.Write(fd, []byte("over-mptcp")); err != nil {
				t.Fatalf("write: %v", err)
			}
			select {
			case s := <-got:
				if s != "over-mptcp" {
					t.Errorf("server got %q, want %q", s, "over-mptcp")
				}
			case <-time.After(10 * time.Second):
				t.Errorf("the MPTCP connection delivered nothing")
			}
			if joined != tc.joins {
				t.Errorf("a join subflow reached %s: %v, want %v (packets there: %d)", mptcpAnnounced, joined, tc.joins, peerCount(t, sb))
			}
			if !tc.joins {
				if n := ruleCounter(t, k, "unowned/mptcp-join"); n == 0 {
					t.Errorf("unowned/mptcp-join counted no packet: the kernel attempted no join, the test proves nothing")
				}
			}
		})
	}
}

// mptcpDialAs connects an MPTCP socket owned by uid to addr:mptcpPort.
func mptcpDialAs(t *testing.T, sb *sandbox.Sandbox, uid int, addr netip.Addr) int {
	t.Helper()
	var fd int
	err := sb.Client().Do(func() error {
		prev, _ := unix.SetfsuidRetUid(uid)
		s, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, ipprotoMPTCP)
		unix.Setfsuid(prev)
		if err != nil {
			return fmt.Errorf("MPTCP socket: %w", err)
		}
		if err := unix.Connect(s, &unix.SockaddrInet4{Addr: addr.As4(), Port: mptcpPort}); err != nil {
			unix.Close(s)
			return fmt.Errorf("connect as %d: %w", uid, err)
		}
		fd = s
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

// mptcpAnnouncing sets up the path managers, only inside the sandbox's
// namespaces (the client accepts one announced address and one subflow,
// the peer announces mptcpAnnounced), the peer's counter of packets to the
// announced address (mptcpCountTable), and starts the MPTCP server
// (mptcpServe).
func mptcpAnnouncing(t *testing.T, sb *sandbox.Sandbox) <-chan string {
	t.Helper()
	inNS(t, sb.Client().Name, "", "ip", "mptcp", "limits", "set", "add_addr_accepted", "1", "subflows", "1")
	inNS(t, sb.Peer().Name, "", "ip", "mptcp", "limits", "set", "add_addr_accepted", "0", "subflows", "1")
	inNS(t, sb.Peer().Name, "", "ip", "mptcp", "endpoint", "add", mptcpAnnounced, "signal")
	inNS(t, sb.Peer().Name, mptcpCountTable, "nft", "-f", "-")
	return mptcpServe(t, sb)
}

// mptcpServe listens with MPTCP on every address of the peer and sends
// what the first connection writes (its first read).
func mptcpServe(t *testing.T, sb *sandbox.Sandbox) <-chan string {
	t.Helper()
	var l net.Listener
	err := sb.Peer().Do(func() (err error) {
		var lc net.ListenConfig
		lc.SetMultipathTCP(true)
		l, err = lc.Listen(context.Background(), "tcp4", fmt.Sprintf("0.0.0.0:%d", mptcpPort))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	out := make(chan string, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		buf := make([]byte, 100)
		n, _ := c.Read(buf)
		out <- string(buf[:n])
	}()
	return out
}

var counterRE = regexp.MustCompile(`counter packets (\d+)`)

// peerCount is the peer's count of packets to the announced address.
func peerCount(t *testing.T, sb *sandbox.Sandbox) int {
	t.Helper()
	m := counterRE.FindStringSubmatch(inNS(t, sb.Peer().Name, "", "nft", "list", "table", "inet", "count"))
	if m == nil {
		t.Fatal("no counter in the peer's count table")
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// inNS runs a command in namespace ns (stdin from in) and returns its output.
func inNS(t *testing.T, ns, in string, args ...string) string {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...)
	cmd.Stdin = strings.NewReader(in)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v in %s: %v: %s", args, ns, err, out)
	}
	return string(out)
}

// TestMPTCPJoinOfGovernedProgram: a join subflow inherits the MPTCP
// socket's cgroup, so a governed program's join is judged by its policy
// (which denies the announced address) even with mptcp_joins: unowned.
func TestMPTCPJoinOfGovernedProgram(t *testing.T) {
	kerneltest.Require(t)
	fs, app, own := testCgroup(t, "leash-mptcp")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	peerAddr := sandbox.RemoteAddrs()[0]
	src := fmt.Sprintf(`version: 1
baseline:
  unowned: everyone
  mptcp_joins: unowned
policies:
  - name: app
    cgroups: [%s]
    rules:
      - allow: {to: [%s], ports: [%d/tcp]}
    default: deny
`, app, peerAddr, mptcpPort)
	rs := compileFile(t, ctx, "mptcp-cgroup.yaml", src, policy.Env{Cgroups: fs})
	sb, k := newSandbox(t, ctx)
	if err := k.Apply(rs); err != nil {
		t.Fatal(err)
	}
	got := mptcpAnnouncing(t, sb)
	moveTo(t, fs.Dir(app))
	fd := func() int {
		defer moveTo(t, fs.Dir(own))
		return mptcpDialAs(t, sb, 0, peerAddr)
	}()
	defer unix.Close(fd)
	time.Sleep(3 * time.Second)
	if n := peerCount(t, sb); n != 0 {
		t.Errorf("%d packets of the program's join reached %s, which its policy denies", n, mptcpAnnounced)
	}
	if _, err := unix.Write(fd, []byte("over-mptcp")); err != nil {
		t.Fatalf("write: %v", err)
	}
	select {
	case s := <-got:
		if s != "over-mptcp" {
			t.Errorf("server got %q", s)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("the MPTCP connection delivered nothing")
	}
	if n := ruleCounter(t, k, "app/default"); n == 0 {
		t.Errorf("app/default dropped nothing: the join was not judged by the program's policy")
	}
}
