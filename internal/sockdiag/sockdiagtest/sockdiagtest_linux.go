// Package sockdiagtest holds kernel-test helpers for code that lists
// sockets: a loopback-only network namespace, listeners inside it, and a
// process of a given uid that holds connections open.
package sockdiagtest

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/leash-dev/leash/internal/kerneltest"
	"github.com/leash-dev/leash/internal/netns"
	"github.com/leash-dev/leash/internal/sockdiag"
)

var seq atomic.Int64

// NS creates a network namespace named leash-PREFIX-PID-N with only
// loopback, up (127.0.0.1 and ::1), and removes it at the end of the test.
func NS(t testing.TB, prefix string) *netns.NS {
	t.Helper()
	kerneltest.Require(t)
	ns, err := netns.Create(fmt.Sprintf("leash-%s-%d-%d", prefix, os.Getpid(), seq.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	if out, err := exec.Command("ip", "-n", ns.Name, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip -n %s link set lo up: %v: %s", ns.Name, err, out)
	}
	return ns
}

// ListenTCP listens on addr ("127.0.0.1:0", "[::1]:0") inside ns, accepts
// and holds every connection until the end of the test, and returns the
// address it listens on.
func ListenTCP(t testing.TB, ns *netns.NS, addr string) netip.AddrPort {
	t.Helper()
	var ln net.Listener
	if err := ns.Do(func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatalf("listen on %s in %s: %v", addr, ns.Name, err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return netip.MustParseAddrPort(ln.Addr().String())
}

// Target is a connection a Holder opens.
type Target struct {
	Proto sockdiag.Proto // TCP or UDP
	Addr  netip.AddrPort
}

// Holder is a process holding connections: bash opened them (as fds 3, 4,
// ... in Targets order) and then became `sleep`.
type Holder struct {
	PID int
	Exe string // the sleep binary
}

// holdFor bounds a Holder's life if the cleanup never runs.
const holdFor = 300 * time.Second

// Hold starts, inside ns, a process with uid and gid (no supplementary
// groups) that connects to every target itself (bash's /dev/tcp and
// /dev/udp: socket and connect in that process) and then execs sleep,
// keeping them open. It returns once all are connected; the process is
// killed at the end of the test.
func Hold(t testing.TB, ns *netns.NS, uid, gid uint32, targets ...Target) *Holder {
	t.Helper()
	var script strings.Builder
	for i, tg := range targets {
		fmt.Fprintf(&script, "exec %d<>/dev/%s/%s/%d || exit 1\n", 3+i, tg.Proto, tg.Addr.Addr(), tg.Addr.Port())
	}
	sleep, err := exec.LookPath("sleep")
	if err == nil {
		sleep, err = filepath.EvalSymlinks(sleep) // what /proc/PID/exe shows
	}
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&script, "echo ready\nexec %s %d\n", sleep, int(holdFor.Seconds()))
	cmd := exec.Command("bash", "-c", script.String())
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.Dir = "/"
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{}},
		Pdeathsig:  syscall.SIGKILL,
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := ns.Do(cmd.Start); err != nil {
		t.Fatalf("start holder in %s: %v", ns.Name, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	ready := make(chan bool, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- line == "ready\n"
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("holder as uid %d could not connect to %v (script:\n%s)", uid, targets, script.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("holder as uid %d: not connected after 10s", uid)
	}
	waitExec(t, cmd.Process.Pid, sleep)
	return &Holder{PID: cmd.Process.Pid, Exe: sleep}
}

// waitExec waits (up to 10s) until process pid runs exe: bash has said it is
// ready, but may not have exec'd sleep yet.
func waitExec(t testing.TB, pid int, exe string) {
	t.Helper()
	link := fmt.Sprintf("/proc/%d/exe", pid)
	for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(time.Millisecond) {
		if got, err := os.Readlink(link); err == nil && got == exe {
			return
		}
	}
	t.Fatalf("holder %d: not running %s after 10s", pid, exe)
}
