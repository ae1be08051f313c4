package denylog

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/leash-dev/leash/internal/kerneltest"
	"github.com/leash-dev/leash/internal/netns"
)

// childEnv makes the test binary a traffic child (see runChild) instead of
// running tests.
const childEnv = "LEASH_DENYLOG_CHILD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		if err := runChild(spec); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	if childDir != "" {
		os.RemoveAll(childDir)
	}
	os.Exit(code)
}

// childComm is the command name of traffic children: the test binary is
// copied under this name where any uid can run it (go test's build
// directory is private to root).
const childComm = "dlogchild"

var (
	childOnce sync.Once
	childDir  string
	childErr  error
)

// childExe returns the runnable copy of the test binary.
func childExe(t *testing.T) string {
	t.Helper()
	childOnce.Do(func() {
		var exe string
		if exe, childErr = os.Executable(); childErr != nil {
			return
		}
		if childDir, childErr = os.MkdirTemp("/tmp", "leash-dlog-"); childErr != nil {
			return
		}
		if childErr = os.Chmod(childDir, 0o755); childErr != nil {
			return
		}
		var b []byte
		if b, childErr = os.ReadFile(exe); childErr != nil {
			return
		}
		childErr = os.WriteFile(filepath.Join(childDir, childComm), b, 0o755)
	})
	if childErr != nil {
		t.Fatalf("install child executable: %v", childErr)
	}
	return filepath.Join(childDir, childComm)
}

// runChild makes traffic as told by spec, "PROTO ADDR:PORT COUNT HOLD":
// COUNT connects (tcp), datagrams on one socket (udp) or datagrams each on
// a new socket (udpeach), then it keeps the sockets open for HOLD before
// exiting. Send errors are expected (the table
// drops) and ignored.
func runChild(spec string) error {
	f := strings.Fields(spec)
	if len(f) != 4 {
		return fmt.Errorf("bad spec %q", spec)
	}
	dst, err := netip.ParseAddrPort(f[1])
	if err != nil {
		return err
	}
	count, err := strconv.Atoi(f[2])
	if err != nil {
		return err
	}
	hold, err := time.ParseDuration(f[3])
	if err != nil {
		return err
	}
	family := unix.AF_INET6
	var sa unix.Sockaddr = &unix.SockaddrInet6{Port: int(dst.Port()), Addr: dst.Addr().As16()}
	if dst.Addr().Is4() {
		family, sa = unix.AF_INET, &unix.SockaddrInet4{Port: int(dst.Port()), Addr: dst.Addr().As4()}
	}
	switch f[0] {
	case "tcp":
		for range count {
			fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
			if err != nil {
				return err
			}
			unix.Connect(fd, sa) // EINPROGRESS: the SYN is out (and dropped)
		}
	case "udp":
		fd, err := unix.Socket(family, unix.SOCK_DGRAM, 0)
		if err != nil {
			return err
		}
		for range count {
			unix.Sendto(fd, []byte("leash"), 0, sa)
		}
	case "udpeach": // a new socket for every datagram
		for range count {
			fd, err := unix.Socket(family, unix.SOCK_DGRAM, 0)
			if err != nil {
				return err
			}
			unix.Sendto(fd, []byte("leash"), 0, sa)
			unix.Close(fd)
		}
	default:
		return fmt.Errorf("bad proto %q", f[0])
	}
	time.Sleep(hold)
	return nil
}

// child starts a traffic child (see runChild) with uid/gid, born in ns.
func child(t *testing.T, ns *netns.NS, uid uint32, spec string) *exec.Cmd {
	t.Helper()
	exe := childExe(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = []string{childEnv + "=" + spec}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}, Pdeathsig: syscall.SIGKILL}
	if err := ns.Do(cmd.Start); err != nil {
		t.Fatalf("start child: %v", err)
	}
	return cmd
}

var nsSeq atomic.Int32

// testNS creates a namespace with loopback up and 10.99.0.1 and fd99::1 on
// it (packets to them take the output path and lo), removed after the test.
func testNS(t *testing.T) *netns.NS {
	t.Helper()
	kerneltest.Require(t)
	ns, err := netns.Create(fmt.Sprintf("leash-dlog-%d-%d", os.Getpid(), nsSeq.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"addr", "add", "10.99.0.1/32", "dev", "lo"},
		{"addr", "add", "fd99::1/128", "dev", "lo"},
	} {
		ip(t, append([]string{"-n", ns.Name}, args...)...)
	}
	return ns
}

func ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// nftCLI runs nft inside ns with stdin and returns its output.
func nftCLI(t *testing.T, ns *netns.NS, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns.Name, "nft"}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("nft %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
