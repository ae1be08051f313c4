package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/leash-dev/leash/internal/cgroups"
	"github.com/leash-dev/leash/internal/clock"
	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/engine"
	"github.com/leash-dev/leash/internal/kerneltest"
	"github.com/leash-dev/leash/internal/netns"
	"github.com/leash-dev/leash/internal/nft"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/state"
)

// The ports of the restart test: the confined program may use allowPort
// (UDP and TCP), not denyPort.
const (
	allowPort = 7301
	denyPort  = 7302
	senderEnv = "LEASH_CGROUP_SENDER"
)

func TestMain(m *testing.M) {
	if os.Getenv(senderEnv) != "" {
		os.Exit(sender())
	}
	os.Exit(m.Run())
}

// senderReport is what a sender process saw.
type senderReport struct {
	// Echoes is how many UDP datagrams it sent to the allowed port per
	// family before one was echoed (0: never).
	Echoes map[string]int `json:"echoes"`
	// TCP says whether the allowed TCP connection succeeded per family.
	TCP map[string]bool `json:"tcp"`
}

// sender is the confined program: born in its cgroup, it first sends to
// the denied port (UDP datagram and TCP SYN, IPv4 and IPv6) at once,
// before the daemon can have classified its new cgroup; then it sends to
// the allowed port until echoed (the cgroup is classified), connects to
// it over TCP, and sends to the denied port again (now denied by the
// policy's rules, not held).
func sender() int {
	hosts := map[string]string{"v4": "127.0.0.1", "v6": "::1"}
	deny := func() {
		for _, h := range hosts {
			if c, err := net.Dial("udp", net.JoinHostPort(h, fmt.Sprint(denyPort))); err == nil {
				c.Write([]byte("denied"))
				c.Close()
			}
			if c, err := net.DialTimeout("tcp", net.JoinHostPort(h, fmt.Sprint(denyPort)), 20*time.Millisecond); err == nil {
				c.Close()
			}
		}
	}
	deny()
	attempts, tcpWait := 100, time.Second
	if os.Getenv(senderEnv) == "held" { // the daemon is stopped: everything stays held
		attempts, tcpWait = 5, 200*time.Millisecond
	}
	rep := senderReport{Echoes: map[string]int{}, TCP: map[string]bool{}}
	for fam, h := range hosts {
		c, err := net.Dial("udp", net.JoinHostPort(h, fmt.Sprint(allowPort)))
		if err != nil {
			continue
		}
		buf := make([]byte, 16)
		for i := 1; i <= attempts; i++ {
			c.Write([]byte("allowed"))
			c.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
			if _, err := c.Read(buf); err == nil {
				rep.Echoes[fam] = i
				break
			}
		}
		c.Close()
		if t, err := net.DialTimeout("tcp", net.JoinHostPort(h, fmt.Sprint(allowPort)), tcpWait); err == nil {
			rep.TCP[fam] = true
			t.Close()
		}
	}
	deny()
	json.NewEncoder(os.Stdout).Encode(rep)
	return 0
}

// peer listens in the namespace on both ports, v4 and v6, echoes UDP on
// the allowed port and counts everything that reaches the denied port.
type peer struct {
	denied  atomic.Int64
	closers []io.Closer
}

func startPeer(t *testing.T, ns *netns.NS) *peer {
	t.Helper()
	p := &peer{}
	err := ns.Do(func() error {
		for _, h := range []string{"127.0.0.1", "::1"} {
			for _, port := range []int{allowPort, denyPort} {
				addr := net.JoinHostPort(h, fmt.Sprint(port))
				pc, err := net.ListenPacket("udp", addr)
				if err != nil {
					return err
				}
				l, err := net.Listen("tcp", addr)
				if err != nil {
					return err
				}
				p.closers = append(p.closers, pc, l)
				go func() {
					buf := make([]byte, 64)
					for {
						n, from, err := pc.ReadFrom(buf)
						if err != nil {
							return
						}
						if port == denyPort {
							p.denied.Add(1)
						} else {
							pc.WriteTo(buf[:n], from)
						}
					}
				}()
				go func() {
					for {
						c, err := l.Accept()
						if err != nil {
							return
						}
						if port == denyPort {
							p.denied.Add(1)
						}
						c.Close()
					}
				}()
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, c := range p.closers {
			c.Close()
		}
	})
	return p
}

// TestCgroupRestartsNoWindow: a program confined by `cgroups:` is
// restarted 100 times, each time in a new cgroup (a new id, as systemd
// makes on every restart) of a fake systemd-like tree in the real cgroup2
// mount, and sends to a denied port at once: no packet of a denied flow
// reaches the peer, IPv4 or IPv6, UDP or TCP. Once the daemon has
// classified the new cgroup (inotify, engine.UpdateLive) its allowed
// flows pass.
func TestCgroupRestartsNoWindow(t *testing.T) {
	kerneltest.Require(t)
	fs, err := cgroups.Mount("/proc/self/mountinfo")
	if err != nil {
		kerneltest.Unavailable(t, "no cgroup2 mount: %v", err)
	}
	top := fmt.Sprintf("leash-kt-%d", os.Getpid())
	unit := top + "/system.slice/app.service"
	if err := os.MkdirAll(fs.Dir(top+"/system.slice"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.Remove(fs.Dir(unit))
		os.Remove(fs.Dir(top + "/system.slice"))
		os.Remove(fs.Dir(top))
	})

	nsName := fmt.Sprintf("leash-cgt-%d", os.Getpid())
	ns, err := netns.Create(nsName)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	if err := exec.Command("ip", "netns", "exec", nsName, "ip", "link", "set", "lo", "up").Run(); err != nil {
		t.Fatal(err)
	}
	p := startPeer(t, ns)

	dir := t.TempDir()
	file := filepath.Join(dir, "policy.yaml")
	src := fmt.Sprintf(`version: 1
baseline:
  loopback: rules
policies:
  - name: app
    cgroups: [%s]
    rules:
      - allow: {ports: [%d]}
    default: deny
`, unit, allowPort)
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	e := &engine.Engine{
		Store:         &state.Store{Dir: filepath.Join(dir, "state")},
		OpenKernel:    func() (engine.Kernel, error) { return nft.OpenNetNS(nsName) },
		Clock:         clock.Real{},
		LockTimeout:   5 * time.Second,
		StartReverter: func(*state.Pending) (int, error) { return 0, fmt.Errorf("no reverter in this test") },
	}
	fw, err := NewFileWatcher()
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Close()
	cw, err := cgroups.NewWatch()
	if err != nil {
		t.Fatal(err)
	}
	defer cw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		err := Run(ctx, Config{Engine: e, Policy: file, ReadFile: os.ReadFile, Watcher: fw,
			Compile: func(ctx context.Context, path string, src []byte) (*engine.Compiled, error) {
				return engine.Compile(ctx, policy.Env{Cgroups: fs}, path, src)
			},
			Clock: clock.Real{}, RepairEvery: time.Minute, Cgroups: &Cgroups{Tree: fs, Root: fs.Root, Watch: cw},
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	stop := func() { cancel(); <-stopped }
	defer stop()
	waitFor(t, func() bool { g, _, err := e.View(); return err == nil && g != nil })

	const restarts = 100
	firstHeld, classified := 0, 0
	start := time.Now()
	for i := range restarts {
		os.Remove(fs.Dir(unit)) // the last run has exited: systemd removes its cgroup
		if err := os.Mkdir(fs.Dir(unit), 0o755); err != nil {
			t.Fatalf("restart %d: %v", i, err)
		}
		rep := runSender(t, ns, fs.Dir(unit))
		for _, fam := range []string{"v4", "v6"} {
			switch n := rep.Echoes[fam]; {
			case n == 0:
				t.Errorf("restart %d: the allowed %s flow never passed: the new cgroup was not classified", i, fam)
			case n > 1:
				firstHeld++
			}
			if !rep.TCP[fam] {
				t.Errorf("restart %d: the allowed %s TCP connection failed", i, fam)
			}
		}
		if rep.Echoes["v4"] > 0 && rep.Echoes["v6"] > 0 {
			classified++
		}
		if n := p.denied.Load(); n != 0 {
			t.Fatalf("restart %d: %d packets of denied flows reached the peer", i, n)
		}
	}
	held := heldPackets(t, nsName)

	// With the daemon stopped, nothing classifies a restarted cgroup: every
	// packet of it, allowed or denied, is held, none reaches the peer.
	stop()
	for i := range 3 {
		os.Remove(fs.Dir(unit))
		if err := os.Mkdir(fs.Dir(unit), 0o755); err != nil {
			t.Fatal(err)
		}
		rep := runSenderAs(t, ns, fs.Dir(unit), "held")
		if rep.Echoes["v4"]+rep.Echoes["v6"] != 0 || rep.TCP["v4"] || rep.TCP["v6"] {
			t.Errorf("daemon stopped, restart %d: an unclassified cgroup's packets passed: %+v", i, rep)
		}
	}
	if n := p.denied.Load(); n != 0 {
		t.Fatalf("daemon stopped: %d packets of denied flows reached the peer", n)
	}
	if after := heldPackets(t, nsName); after <= held {
		t.Errorf("daemon stopped: the hold counted %d packets before and %d after three unclassified runs", held, after)
	} else {
		t.Logf("daemon stopped: 3 restarts, every packet held (%d more), none reached the peer", after-held)
	}
	t.Logf("%d restarts in %v: %d classified; %d packets held by cgroups/unclassified (sent before the daemon classified the new cgroup); the first allowed datagram was held %d of %d times; 0 denied packets reached the peer",
		restarts, time.Since(start).Round(time.Millisecond), classified, held, firstHeld, 2*restarts)
}

// heldPackets is the count of the rules that hold unclassified cgroups.
func heldPackets(t *testing.T, nsName string) uint64 {
	t.Helper()
	c, err := nft.OpenNetNS(nsName)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rs, err := c.Read()
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, ch := range rs.Chains {
		for _, r := range ch.Rules {
			if r.Origin.ID == compile.IDCgroupUnclassified {
				n += r.Packets
			}
		}
	}
	return n
}

// runSender starts the sender in cgroup dir (CLONE_INTO_CGROUP: in its
// cgroup before its first instruction) inside ns, and returns its report.
func runSender(t *testing.T, ns *netns.NS, dir string) senderReport {
	t.Helper()
	return runSenderAs(t, ns, dir, "1")
}

// runSenderAs is runSender with the sender's mode (senderEnv's value).
func runSenderAs(t *testing.T, ns *netns.NS, dir, mode string) senderReport {
	t.Helper()
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), senderEnv+"="+mode)
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd, Pdeathsig: syscall.SIGKILL}
	out := &jsonBuffer{}
	cmd.Stdout = out
	if err := ns.Do(cmd.Start); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sender: %v", err)
	}
	var rep senderReport
	if err := json.Unmarshal(out.b, &rep); err != nil {
		t.Fatalf("sender printed %q: %v", out.b, err)
	}
	return rep
}

type jsonBuffer struct{ b []byte }

func (j *jsonBuffer) Write(p []byte) (int, error) { j.b = append(j.b, p...); return len(p), nil }

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("condition not met within 10s")
}
