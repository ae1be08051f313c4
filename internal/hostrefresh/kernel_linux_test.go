package hostrefresh_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"github.com/leash-dev/leash/internal/clock"
	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/daemon"
	"github.com/leash-dev/leash/internal/engine"
	"github.com/leash-dev/leash/internal/hostrefresh"
	"github.com/leash-dev/leash/internal/kerneltest"
	"github.com/leash-dev/leash/internal/netns"
	"github.com/leash-dev/leash/internal/nft"
	"github.com/leash-dev/leash/internal/policy/policytest"
	"github.com/leash-dev/leash/internal/resolve"
	"github.com/leash-dev/leash/internal/sandbox"
	"github.com/leash-dev/leash/internal/sandbox/sandboxtest"
	"github.com/leash-dev/leash/internal/state"
)

// markChildEnv makes the test binary the mark child (markChild).
const markChildEnv = "LEASH_HOSTREFRESH_MARK_CHILD"

func TestMain(m *testing.M) {
	if v := os.Getenv(markChildEnv); v != "" {
		server, mark, _ := strings.Cut(v, ",")
		os.Exit(markChild(server, mark == "mark"))
	}
	sandboxtest.Main(m)
}

// markResult is what the mark child saw.
type markResult struct {
	UID      int    `json:"uid"`
	MarkErr  string `json:"mark_err"`
	Answered bool   `json:"answered"`
	SendErr  string `json:"send_err"`
}

// markChild asks the DNS server at server for deb.example.org over UDP,
// from a socket with leash's mark when mark is set (what an ordinary user
// would try to use the DNS exemption): it reports whether the mark could be
// set and whether the server answered.
func markChild(server string, mark bool) int {
	res := markResult{UID: os.Getuid()}
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) {
			if mark {
				if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, int(compile.DNSMark)); err != nil {
					res.MarkErr = err.Error()
				}
			}
		})
	}}
	conn, err := d.Dial("udp", server)
	if err != nil {
		res.SendErr = err.Error()
		_ = json.NewEncoder(os.Stdout).Encode(res)
		return 0
	}
	defer conn.Close()
	c := &dns.Client{Net: "udp", Timeout: time.Second}
	m := new(dns.Msg)
	m.SetQuestion("deb.example.org.", dns.TypeA)
	if _, _, err := c.ExchangeWithConn(m, &dns.Conn{Conn: conn}); err != nil {
		res.SendErr = err.Error()
	} else {
		res.Answered = true
	}
	_ = json.NewEncoder(os.Stdout).Encode(res)
	return 0
}

// mutableZone is a DNS server's zone that the test changes.
type mutableZone struct {
	mu    sync.Mutex
	hosts map[string][]netip.Addr
	ttl   uint32
}

func (z *mutableZone) set(name string, addrs ...netip.Addr) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.hosts[dns.Fqdn(name)] = addrs
}

func (z *mutableZone) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	z.mu.Lock()
	defer z.mu.Unlock()
	resp := new(dns.Msg)
	resp.SetReply(req)
	for _, q := range req.Question {
		addrs, ok := z.hosts[q.Name]
		if !ok {
			resp.Rcode = dns.RcodeNameError
			continue
		}
		hdr := dns.RR_Header{Name: q.Name, Class: dns.ClassINET, Ttl: z.ttl}
		for _, a := range addrs {
			switch {
			case q.Qtype == dns.TypeA && a.Is4():
				hdr.Rrtype = dns.TypeA
				resp.Answer = append(resp.Answer, &dns.A{Hdr: hdr, A: a.AsSlice()})
			case q.Qtype == dns.TypeAAAA && a.Is6():
				hdr.Rrtype = dns.TypeAAAA
				resp.Answer = append(resp.Answer, &dns.AAAA{Hdr: hdr, AAAA: a.AsSlice()})
			}
		}
	}
	_ = w.WriteMsg(resp)
}

// serveZone serves z on ap (UDP and TCP) inside the peer namespace until
// the test ends.
func serveZone(t *testing.T, peer *netns.NS, ap netip.AddrPort, z *mutableZone) {
	t.Helper()
	var pc net.PacketConn
	var ln net.Listener
	if err := peer.Do(func() (err error) {
		if pc, err = net.ListenPacket("udp", ap.String()); err != nil {
			return err
		}
		ln, err = net.Listen("tcp", ap.String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: z}, {Listener: ln, Handler: z}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { _ = srv.ActivateAndServe() }()
		<-started
		t.Cleanup(func() { _ = srv.Shutdown() })
	}
}

// echoServer accepts TCP connections on ap inside the peer namespace and
// echoes them until the test ends.
func echoServer(t *testing.T, peer *netns.NS, ap netip.AddrPort) {
	t.Helper()
	var ln net.Listener
	if err := peer.Do(func() (err error) {
		ln, err = net.Listen("tcp", ap.String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
}

// nopWatcher watches nothing: the test changes no files.
type nopWatcher struct{ ch chan string }

func (nopWatcher) Watch(string) error      { return nil }
func (w nopWatcher) Events() <-chan string { return w.ch }
func (nopWatcher) Close() error            { return nil }

// TestDaemonDNSUnderLockdown runs the daemon (daemon.Run with the host
// refresher, owning the table, as `leash daemon` wires it) against examples/server-lockdown.yaml
// in a sandbox whose DNS server is not one of the policy's resolvers, so
// the policy denies root's DNS to it:
//
//   - the daemon's lookups pass (the DNS exemption: marked sockets), while
//     root's and an ordinary user's queries are rejected, and the user
//     cannot set the mark;
//   - when the server's answer for deb.example.org changes, the daemon puts
//     the new address in the table within the TTL (plus the floor), as an
//     element update of the shared lookup (no new generation), and
//     an established allowed connection to the old address keeps working
//     with no packet dropped (no TCP retransmission) while it lives; when
//     it closes, the old address leaves the table after the grace period.
func TestDaemonDNSUnderLockdown(t *testing.T) {
	kerneltest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	sb, err := sandbox.New(ctx, sandbox.Config{ProbeCommand: sandboxtest.ProbeBinary(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	client := sb.Client().Name

	const ttl = 2 * time.Second
	oldAddr, newAddr := netip.MustParseAddr("192.0.2.82"), netip.MustParseAddr("192.0.2.182")
	z := &mutableZone{hosts: map[string][]netip.Addr{}, ttl: uint32(ttl / time.Second)}
	z.set("deb.example.org", oldAddr, netip.MustParseAddr("2001:db8::82"))
	z.set("security.example.org", netip.MustParseAddr("192.0.2.83"))
	server := netip.MustParseAddrPort("10.200.9.53:53") // not the policy's resolvers
	serveZone(t, sb.Peer(), server, z)
	echoServer(t, sb.Peer(), netip.AddrPortFrom(oldAddr, 80))

	r := &resolve.DNS{Servers: []string{server.String()}, NoHosts: true, Timeout: time.Second, Attempts: 1,
		Deadline: 3 * time.Second, Dial: resolve.MarkedDial(compile.DNSMark, client)}
	ids := policytest.IDs{Apache: 64961, Oracle: 64962, Admin: 64963, Alice: 64964, Bob: 64965, Carol: 64966, Supporters: 64970, Users: 64971}
	env := policytest.Env(ids)
	env.Resolver = r
	path, err := filepath.Abs("../../examples/server-lockdown.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := engine.Compile(ctx, env, path, src) // the CLI's own lookups: marked too
	if err != nil {
		t.Fatal(err)
	}
	store := &state.Store{Dir: t.TempDir()}
	e := &engine.Engine{Store: store, OpenKernel: func() (engine.Kernel, error) { return nft.OpenNetNS(client) },
		Clock: clock.Real{}, LockTimeout: 10 * time.Second, Holder: "hostrefresh kernel test"}
	if _, err := e.Apply(ctx, c, engine.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}

	// Root's and carol's own DNS to the server is denied by the policy;
	// carol cannot set the mark, so she cannot use the exemption; root's
	// marked socket (CAP_NET_ADMIN, as the daemon's) is answered.
	for _, tc := range []struct {
		name     string
		uid      uint32
		mark     bool
		markErr  string
		answered bool
	}{
		{name: "root, unmarked", uid: 0},
		{name: "carol, unmarked", uid: ids.Carol},
		{name: "carol, trying the mark", uid: ids.Carol, mark: true, markErr: unix.EPERM.Error()},
		{name: "root, marked", uid: 0, mark: true, answered: true},
	} {
		mr := runMarkChild(t, client, server, tc.uid, ids.Users, tc.mark)
		if mr.UID != int(tc.uid) || mr.MarkErr != tc.markErr || mr.Answered != tc.answered {
			t.Errorf("%s: %+v, want mark error %q, answered %v", tc.name, mr, tc.markErr, tc.answered)
		}
		t.Logf("%s: %+v", tc.name, mr)
	}

	// The daemon, with the refresher, owning the table as `leash daemon`
	// does (every change, element updates included, on its socket).
	owner, err := nft.OpenNetNS(client, nft.Owning())
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	daemon.Own(e, owner)
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	refresher := hostrefresh.New(hostrefresh.Config{Resolver: r, Conns: hostrefresh.SocketConns{NetNS: client},
		Updater: hostrefresh.EngineUpdater{Engine: e, Compile: func(ctx context.Context, path string, src []byte, r resolve.Resolver) (*engine.Compiled, error) {
			env := env
			env.Resolver = r
			return engine.Compile(ctx, env, path, src)
		}, Fallback: r},
		Store: store, Clock: clock.Real{}, Log: log, Floor: time.Second, Ceiling: 10 * time.Second, Grace: 2 * time.Second})
	dctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- daemon.Run(dctx, daemon.Config{Engine: e, ReadFile: os.ReadFile, Watcher: nopWatcher{ch: make(chan string)},
			Compile: func(ctx context.Context, path string, src []byte) (*engine.Compiled, error) {
				return engine.Compile(ctx, env, path, src)
			},
			Clock: clock.Real{}, RepairEvery: time.Second, Log: log, Hosts: refresher, Owner: owner})
	}()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("daemon: %v", err)
		}
	}()
	waitFor(t, 5*time.Second, "the daemon's first refresh of deb.example.org", func() bool {
		h := hostState(t, store, "deb.example.org")
		return h != nil && !h.Refreshed.IsZero() && h.Error == ""
	})

	// An established allowed connection to the old address (root: the
	// everyone policy allows the mirrors on 80).
	var conn *net.TCPConn
	if err := netns.DoIn(client, func() error {
		cn, err := net.DialTimeout("tcp", netip.AddrPortFrom(oldAddr, 80).String(), 2*time.Second)
		if err == nil {
			conn = cn.(*net.TCPConn)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ping := func() {
		t.Helper()
		conn.SetDeadline(time.Now().Add(time.Second))
		if _, err := conn.Write([]byte("ping")); err != nil {
			t.Fatalf("write on the established connection: %v", err)
		}
		buf := make([]byte, 4)
		if _, err := io.ReadFull(conn, buf); err != nil {
			t.Fatalf("echo on the established connection: %v", err)
		}
	}
	ping()

	// The answer changes: the daemon follows within the TTL (plus the
	// floor, the refresher's clamp, and a second of slack).
	z.set("deb.example.org", newAddr, netip.MustParseAddr("2001:db8::82"))
	changed := time.Now()
	gen, err := store.CurrentID()
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, ttl+2*time.Second, "the new address in the table", func() bool {
		return inTable(t, client, newAddr)
	})
	if now, err := store.CurrentID(); err != nil || now != gen {
		t.Errorf("generation %d in force after the refresh, want %d (an element update, no new generation): %v", now, gen, err)
	}
	t.Logf("followed the change in %v (TTL %v)", time.Since(changed).Round(10*time.Millisecond), ttl)
	out, err := sb.Probe(ctx, sandbox.Probe{UID: ids.Carol, GID: ids.Users, Proto: sandbox.TCP, Addr: newAddr, Port: 443, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !out.Allowed() {
		t.Errorf("carol to the new address: %s, want connected", out)
	}

	// Past the grace period, the live connection keeps the old address.
	for end := time.Now().Add(4 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		ping()
	}
	if !inTable(t, client, oldAddr) {
		t.Errorf("the old address left the table while a connection to it lives")
	}
	info, err := tcpInfo(conn)
	if err != nil {
		t.Fatal(err)
	}
	if info.Total_retrans != 0 {
		t.Errorf("the established connection retransmitted %d segments: packets were dropped", info.Total_retrans)
	}
	t.Logf("established connection: %d segments out, %d retransmitted", info.Segs_out, info.Total_retrans)

	// The connection ends: the old address goes.
	conn.Close()
	waitFor(t, 5*time.Second, "the old address to leave the table", func() bool {
		return !inTable(t, client, oldAddr)
	})
	out, err = sb.Probe(ctx, sandbox.Probe{UID: ids.Carol, GID: ids.Users, Proto: sandbox.TCP, Addr: oldAddr, Port: 443, Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if out.Allowed() {
		t.Errorf("carol to the departed address: %s, want denied", out)
	}
	if h := hostState(t, store, "deb.example.org"); h == nil || !slices.Equal(h.Addrs, []netip.Addr{newAddr, netip.MustParseAddr("2001:db8::82")}) {
		t.Errorf("recorded state: %+v", h)
	}
}

func runMarkChild(t *testing.T, ns string, server netip.AddrPort, uid, gid uint32, mark bool) markResult {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "leash-mark-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "child")
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	v := server.String()
	if mark {
		v += ",mark"
	}
	cmd.Env = []string{markChildEnv + "=" + v}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	var out []byte
	if err := netns.DoIn(ns, func() (err error) {
		out, err = cmd.Output()
		return err
	}); err != nil {
		t.Fatalf("mark child: %v", err)
	}
	var res markResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("mark child said %q: %v", out, err)
	}
	return res
}

func tcpInfo(c *net.TCPConn) (*unix.TCPInfo, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var info *unix.TCPInfo
	var serr error
	if err := raw.Control(func(fd uintptr) { info, serr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }); err != nil {
		return nil, err
	}
	return info, serr
}

// inTable reports whether addr is an element of a set or a map's address
// field in the namespace's table (the lookups hostnames compile into).
func inTable(t *testing.T, ns string, addr netip.Addr) bool {
	t.Helper()
	k, err := nft.OpenNetNS(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	rs, err := k.Read()
	if err != nil || rs == nil {
		t.Fatalf("read the table: %v", err)
	}
	for _, s := range rs.Sets {
		for _, p := range s.Prefixes {
			if p.Contains(addr) {
				return true
			}
		}
	}
	for _, m := range rs.Maps {
		for _, e := range m.Entries {
			if len(e.Values) > 0 && e.Values[0].Prefix.IsValid() && e.Values[0].Prefix.Contains(addr) {
				return true
			}
		}
	}
	return false
}

func hostState(t *testing.T, store *state.Store, name string) *state.HostState {
	t.Helper()
	rec, err := store.Hosts()
	if err != nil {
		t.Fatal(err)
	}
	if rec == nil {
		return nil
	}
	for _, h := range rec.Hosts {
		if h.Name == name {
			return &h
		}
	}
	return nil
}

// waitFor polls cond every 50ms for at most d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("no %s within %v", what, d)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}
