package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/policy/policytest"
	"github.com/leash-dev/leash/internal/procinfo"
	"github.com/leash-dev/leash/internal/sockdiag"
	"github.com/leash-dev/leash/internal/sockowner"
)

// sock builds an owned socket for tests.
func sock(p sockdiag.Proto, state sockdiag.State, src, dst string, uid uint32, procs ...procinfo.Process) sockowner.Owned {
	return sockowner.Owned{
		Socket: sockdiag.Socket{Proto: p, State: state, Src: netip.MustParseAddrPort(src), Dst: netip.MustParseAddrPort(dst),
			UID: uid, Inode: 1},
		Processes: procs,
	}
}

func TestOutgoing(t *testing.T) {
	const tcp, udp = sockdiag.TCP, sockdiag.UDP
	listen4 := sock(tcp, sockdiag.Listen, "0.0.0.0:80", "0.0.0.0:0", 0)
	listen6 := sock(tcp, sockdiag.Listen, "[::]:22", "[::]:0", 0)
	listenLo := sock(tcp, sockdiag.Listen, "127.0.0.1:5432", "0.0.0.0:0", 0)
	dns := sock(udp, sockdiag.Close, "0.0.0.0:53", "0.0.0.0:0", 0)
	tests := []struct {
		name string
		sock sockowner.Owned
		want bool
	}{
		{name: "established tcp", sock: sock(tcp, sockdiag.Established, "10.0.0.5:40000", "192.0.2.25:25", 1), want: true},
		{name: "syn-sent", sock: sock(tcp, sockdiag.SynSent, "10.0.0.5:40001", "192.0.2.25:25", 1), want: true},
		{name: "close-wait", sock: sock(tcp, sockdiag.CloseWait, "10.0.0.5:40002", "192.0.2.25:25", 1), want: true},
		{name: "listener", sock: listen4},
		{name: "time-wait", sock: sock(tcp, sockdiag.TimeWait, "10.0.0.5:40003", "192.0.2.25:25", 0)},
		{name: "accepted on a wildcard listener", sock: sock(tcp, sockdiag.Established, "10.0.0.5:80", "198.51.100.7:50000", 0)},
		{name: "accepted over ipv4 on an ipv6 wildcard listener", sock: sock(tcp, sockdiag.Established, "[::ffff:10.0.0.5]:22", "[::ffff:198.51.100.7]:50000", 0)},
		{name: "accepted over ipv6", sock: sock(tcp, sockdiag.Established, "[2001:db8::5]:22", "[2001:db8::7]:50000", 0)},
		{name: "accepted on loopback", sock: sock(tcp, sockdiag.Established, "127.0.0.1:5432", "127.0.0.1:40000", 0)},
		{name: "same port on another address is outgoing", sock: sock(tcp, sockdiag.Established, "10.0.0.5:5432", "192.0.2.9:5432", 1), want: true},
		{name: "tcp port served only for udp is outgoing", sock: sock(tcp, sockdiag.Established, "10.0.0.5:53", "192.0.2.9:53", 1), want: true},
		{name: "connected udp", sock: sock(udp, sockdiag.Established, "10.0.0.5:5353", "192.0.2.53:53", 1), want: true},
		{name: "unconnected udp", sock: dns},
		{name: "udp connected back to a client of a bound server", sock: sock(udp, sockdiag.Established, "10.0.0.5:53", "198.51.100.7:5000", 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := outgoing([]sockowner.Owned{listen4, listen6, listenLo, dns, tt.sock})
			if kept := len(got) == 1 && got[0].Src == tt.sock.Src; kept != tt.want {
				t.Errorf("outgoing kept %v (%d sockets), want kept %v", kept, len(got), tt.want)
			}
		})
	}
}

// connsFixture is a host with apache's connections (one process holds two,
// one socket is shared after a fork), an unknown uid's connection without a
// process, and sockets that are not outgoing connections.
func connsFixture() []OwnedSocket {
	curl := procinfo.Process{PID: 300, FSUID: 2001, FSGID: 3000, Comm: "curl", Exe: "/usr/bin/curl",
		Cgroup: "/system.slice/apache2.service", Unit: "apache2.service"}
	child := procinfo.Process{PID: 301, FSUID: 2001, FSGID: 3000, Comm: "curl", Exe: "/usr/bin/curl"}
	return []OwnedSocket{
		sock(sockdiag.TCP, sockdiag.Listen, "0.0.0.0:80", "0.0.0.0:0", 2001),
		sock(sockdiag.TCP, sockdiag.Established, "10.0.0.5:80", "198.51.100.7:50000", 2001),
		sock(sockdiag.TCP, sockdiag.Established, "10.0.0.5:40000", "192.0.2.25:25", 2001, curl, child),
		sock(sockdiag.UDP, sockdiag.Established, "[2001:db8::5]:5353", "[2001:db8::1]:53", 2001, curl),
		sock(sockdiag.TCP, sockdiag.SynSent, "10.0.0.5:40001", "203.0.113.9:443", 4321),
		sock(sockdiag.TCP, sockdiag.TimeWait, "10.0.0.5:40002", "203.0.113.9:443", 0),
	}
}

func runConnsTest(t *testing.T, socks []OwnedSocket, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	d := Deps{
		Stdout: &stdout, Stderr: &stderr,
		Env: func(context.Context, EnvOptions) (policy.Env, error) {
			return policytest.Env(policytest.DefaultIDs), nil
		},
		Sockets: func(_ context.Context, ns string) ([]OwnedSocket, error) {
			if ns != "fixture" {
				t.Errorf("Sockets(%q), want the namespace given with --netns", ns)
			}
			return socks, nil
		},
		LocalAddrs: func(string) ([]netip.Addr, error) { return []netip.Addr{netip.MustParseAddr("10.0.0.5")}, nil },
		ReadFile:   os.ReadFile,
	}
	root := New(d)
	root.SetArgs(append([]string{"--netns", "fixture", "--state-dir", t.TempDir()}, args...))
	err := root.ExecuteContext(context.Background())
	return stdout.String(), stderr.String(), err
}

func TestConnsText(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantOut    string
		wantStderr string
	}{
		{
			name: "judged by a policy file",
			args: []string{"conns", "--policy", "../../examples/webmail.yaml"},
			wantOut: `verdicts of ../../examples/webmail.yaml for a new connection like each one
apache (uid 2001)
  pid 300 curl (/usr/bin/curl) unit apache2.service
    tcp  10.0.0.5:40000 -> 192.0.2.25:25         established  allow  by webmail/r1  (also held by pid 301)
    udp  [2001:db8::5]:5353 -> [2001:db8::1]:53  established  reject by webmail/default
uid 4321 (no user of that uid)
  no process found (socket closed, process exited, or not visible)
    tcp  10.0.0.5:40001 -> 203.0.113.9:443       syn-sent     allow  by dispatch/unlisted
3 connection(s) of 2 user(s)
`,
		},
		{
			name: "one user, nothing applied",
			args: []string{"conns", "--user", "apache"},
			wantOut: `apache (uid 2001)
  pid 300 curl (/usr/bin/curl) unit apache2.service
    tcp  10.0.0.5:40000 -> 192.0.2.25:25         established  (also held by pid 301)
    udp  [2001:db8::5]:5353 -> [2001:db8::1]:53  established
2 connection(s) of 1 user(s)
`,
			wantStderr: "connections are listed without verdicts; give --policy FILE to judge them",
		},
		{
			name:    "a uid with no connections",
			args:    []string{"conns", "--user", "2002"},
			wantOut: "no outgoing connections\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, err := runConnsTest(t, connsFixture(), tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantOut, out); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			if !bytes.Contains([]byte(stderr), []byte(tt.wantStderr)) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tt.wantStderr)
			}
		})
	}
}

// TestConnsHostileNames checks that a process name, executable path and
// unit chosen by a restricted user reach the terminal escaped, one line
// each: no clear-screen, title or erase-line sequence, no forged line.
func TestConnsHostileNames(t *testing.T) {
	evil := procinfo.Process{PID: 300, FSUID: 2001, FSGID: 3000, Comm: "\x1b[2J\x1b]0;pwn\x07",
		Exe: "/home/a/\r\x1b[2Kroot (uid 0)\n  pid 1 init", Unit: "u\u2066.service", UserUnit: "v\x00.service"}
	out, _, err := runConnsTest(t, []OwnedSocket{
		sock(sockdiag.TCP, sockdiag.Established, "10.0.0.5:40000", "192.0.2.25:25", 2001, evil),
	}, "conns")
	if err != nil {
		t.Fatal(err)
	}
	want := `apache (uid 2001)
  pid 300 \x1b[2J\x1b]0;pwn\x07 (/home/a/\r\x1b[2Kroot\x20(uid\x200)\n\x20\x20pid\x201\x20init) unit u\u2066.service / v\x00.service
    tcp  10.0.0.5:40000 -> 192.0.2.25:25  established
1 connection(s) of 1 user(s)
`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
}

func TestConnsJSON(t *testing.T) {
	out, _, err := runConnsTest(t, connsFixture(), "--json", "conns", "--policy", "../../examples/webmail.yaml", "--user", "apache")
	if err != nil {
		t.Fatal(err)
	}
	var got connsJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	gid := uint32(3000)
	want := connsJSON{
		JudgedBy: "../../examples/webmail.yaml",
		Users: []connsUserJSON{{User: "apache", UID: 2001, Processes: []connsProcJSON{{
			PID: 300, Comm: "curl", Exe: "/usr/bin/curl", Cgroup: "/system.slice/apache2.service", Unit: "apache2.service",
			Connections: []connJSON{
				{Proto: "tcp", Src: "10.0.0.5:40000", Dst: "192.0.2.25:25", State: "established", Inode: 1, AlsoHeldBy: []int{301},
					GID: &gid, Verdict: "allow", Kernel: "accept", Policy: "webmail", Rule: 1, ID: "webmail/r1", Where: "../../examples/webmail.yaml:13:9",
					Text: "allow: {to: [mail.example.com], ports: [25/tcp, 143/tcp]}", What: "rule"},
				{Proto: "udp", Src: "[2001:db8::5]:5353", Dst: "[2001:db8::1]:53", State: "established", Inode: 1,
					GID: &gid, Verdict: "reject", Kernel: "reject with icmpx admin-prohibited", Policy: "webmail", ID: "webmail/default",
					Where: "../../examples/webmail.yaml:14:14", Text: "default: reject", What: "default"},
			},
		}}}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("conns --json (-want +got):\n%s", diff)
	}
}

func TestConnsErrors(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
	}{
		{name: "unknown user", args: []string{"conns", "--user", "nosuchuser"}, wantCode: 2},
		{name: "bad policy", args: []string{"conns", "--policy", "does-not-exist.yaml"}, wantCode: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runConnsTest(t, nil, tt.args...)
			if got := ExitCode(err); got != tt.wantCode {
				t.Errorf("exit code %d (%v), want %d", got, err, tt.wantCode)
			}
		})
	}
}
