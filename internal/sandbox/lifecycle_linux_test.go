package sandbox_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leash-dev/leash/internal/kerneltest"
	"github.com/leash-dev/leash/internal/netns"
	"github.com/leash-dev/leash/internal/sandbox"
	"github.com/leash-dev/leash/internal/sandbox/sandboxtest"
)

// hostSnapshot reads the root namespace's addresses, routes and ruleset
// (read-only commands).
func hostSnapshot(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, argv := range [][]string{
		{"ip", "-j", "addr"}, {"ip", "-j", "route"}, {"ip", "-6", "-j", "route"}, {"nft", "list", "ruleset"},
	} {
		out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v: %s", argv, err, out)
		}
		fmt.Fprintf(&b, "$ %s\n%s\n", strings.Join(argv, " "), out)
	}
	return b.String()
}

// ownLeftovers lists this process's sandbox namespaces and directories.
func ownLeftovers(t *testing.T) []string {
	t.Helper()
	prefix := fmt.Sprintf("leash-sbx-%d-", os.Getpid())
	var found []string
	for _, dir := range []string{netns.Dir, os.TempDir()} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), prefix) {
				found = append(found, filepath.Join(dir, e.Name()))
			}
		}
	}
	return found
}

func TestHostUntouchedAndNothingLeftAfterClose(t *testing.T) {
	kerneltest.Require(t)
	before := hostSnapshot(t)
	s, err := sandbox.New(context.Background(), sandbox.Config{ProbeCommand: sandboxtest.ProbeBinary(t)})
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Probe(context.Background(), sandbox.Probe{Proto: sandbox.TCP, Addr: netip.MustParseAddr("203.0.113.9"), Port: 443})
	if err != nil || !out.Allowed() {
		t.Errorf("probe = %v, %v; want connected", out, err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if after := hostSnapshot(t); after != before {
		t.Errorf("root namespace changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if left := ownLeftovers(t); len(left) > 0 {
		t.Errorf("left after Close: %v", left)
	}
	if _, err := s.Probe(context.Background(), sandbox.Probe{Proto: sandbox.ICMP, Addr: netip.MustParseAddr("198.51.100.7")}); err == nil {
		t.Errorf("Probe after Close succeeded")
	}
}

func TestCancelledContextClosesSandbox(t *testing.T) {
	kerneltest.Require(t)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := sandbox.New(ctx, sandbox.Config{ProbeCommand: sandboxtest.ProbeBinary(t)})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for len(ownLeftovers(t)) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if left := ownLeftovers(t); len(left) > 0 {
		t.Errorf("left 5s after cancel: %v", left)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close after cancel: %v", err)
	}
}

func TestNewWithCancelledContextLeavesNothing(t *testing.T) {
	kerneltest.Require(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := sandbox.New(ctx, sandbox.Config{ProbeCommand: sandboxtest.ProbeBinary(t)}); err == nil {
		t.Fatal("New with a cancelled context succeeded")
	}
	if left := ownLeftovers(t); len(left) > 0 {
		t.Errorf("left after failed New: %v", left)
	}
}

func TestNewRemovesStaleSandboxes(t *testing.T) {
	kerneltest.Require(t)
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	pid := dead.Process.Pid
	ns, err := netns.Create(fmt.Sprintf("leash-sbx-%d-0-client", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("leash-sbx-%d-stale", pid))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)

	newSandbox(t, nil)
	for _, path := range []string{ns.Path(), dir} {
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("stale %s still there after New (stat: %v)", path, err)
		}
	}
}

// A sandbox without a probe program still has both namespaces (the egress
// benchmark uses them directly); only Probe fails, naming what is missing.
func TestNewWithoutProbeCommand(t *testing.T) {
	kerneltest.Require(t)
	s, err := sandbox.New(context.Background(), sandbox.Config{})
	if err != nil {
		t.Fatalf("New without ProbeCommand: %v", err)
	}
	if s.Client() == nil || s.Peer() == nil {
		t.Errorf("Client() = %v, Peer() = %v; want both namespaces", s.Client(), s.Peer())
	}
	_, err = s.Probe(context.Background(), sandbox.Probe{Proto: sandbox.TCP, Addr: netip.MustParseAddr("203.0.113.9"), Port: 80})
	if err == nil || !strings.Contains(err.Error(), "ProbeCommand") {
		t.Errorf("Probe without ProbeCommand: error %v, want one naming ProbeCommand", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if left := ownLeftovers(t); len(left) > 0 {
		t.Errorf("left after Close: %v", left)
	}
}

func TestNewNamesWhatIsMissing(t *testing.T) {
	kerneltest.Require(t)
	_, err := sandbox.New(context.Background(), sandbox.Config{ProbeCommand: []string{"/nonexistent/leash"}})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/leash") {
		t.Errorf("New with a missing probe: error %v, want one naming the executable", err)
	}
	if left := ownLeftovers(t); len(left) > 0 {
		t.Errorf("left after failed New: %v", left)
	}
}
