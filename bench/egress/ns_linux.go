package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/leash-dev/leash/internal/netns"
	"github.com/leash-dev/leash/internal/sandbox"
)

// namespaces owns the throwaway namespaces of one run and removes them all
// on Close, on normal return and on SIGINT/SIGTERM alike.
type namespaces struct {
	mu  sync.Mutex
	all []io.Closer // *netns.NS and *sandbox.Sandbox
	n   int         // pairs made so far
}

// Paths the measured traffic can take.
const (
	// pathLoopback: sender and receiver in one namespace, to 127.0.0.1.
	pathLoopback = "loopback"
	// pathVeth: the sender in a sandbox's client namespace, the receiver in
	// its peer, across the veth pair, to vethDst: traffic that leaves the
	// namespace the ruleset is in, like real egress.
	pathVeth = "veth"
)

// vethDst is where the veth path sends: outside 10.0.0.0/8, so no CIDR of
// the benchmark's deny list contains it, and local in the sandbox's peer
// (which answers every address). Nothing leaves the two namespaces.
var vethDst = [4]byte{203, 0, 113, 9}

// pair makes the two sides of one path: a gets the ruleset under test, b
// none. Both are built the same way.
func (s *namespaces) pair(path string) (a, b route, err error) {
	sides, err := s.sides(path, "leash", "bare")
	if err != nil {
		return a, b, err
	}
	return sides[0], sides[1], nil
}

// sides makes one side of path per role, all built the same way.
func (s *namespaces) sides(path string, roles ...string) ([]route, error) {
	s.n++
	prefix := fmt.Sprintf("leashbench-%d-%d-", os.Getpid(), s.n)
	sides := make([]route, len(roles))
	for i, role := range roles {
		switch path {
		case pathLoopback:
			ns, err := s.create(prefix + role)
			if err != nil {
				return nil, err
			}
			sides[i] = route{client: ns, server: ns, dst: [4]byte{127, 0, 0, 1}}
		case pathVeth:
			sbx, err := sandbox.New(context.Background(), sandbox.Config{})
			if err != nil {
				return nil, err
			}
			s.add(sbx)
			sides[i] = route{client: sbx.Client(), server: sbx.Peer(), dst: vethDst}
		default:
			return nil, fmt.Errorf("unknown path %q (want %s or %s)", path, pathLoopback, pathVeth)
		}
	}
	return sides, nil
}

// add makes c part of what Close removes.
func (s *namespaces) add(c io.Closer) {
	s.mu.Lock()
	s.all = append(s.all, c)
	s.mu.Unlock()
}

// create makes namespace name with loopback up. Nothing outside it changes.
func (s *namespaces) create(name string) (*netns.NS, error) {
	ns, err := netns.Create(name)
	if err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", name, err)
	}
	s.add(ns)
	if _, err := run(ns.Name, "", "ip", "link", "set", "lo", "up"); err != nil {
		return nil, err
	}
	return ns, nil
}

// Close removes every namespace and sandbox created so far. It is
// idempotent.
func (s *namespaces) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, c := range s.all {
		errs = append(errs, c.Close())
	}
	s.all = nil
	return errors.Join(errs...)
}

// removeOnSignal removes the namespaces and exits when the run is
// interrupted; the returned function stops watching.
func (s *namespaces) removeOnSignal() (stop func()) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		select {
		case got := <-sig:
			fmt.Fprintf(os.Stderr, "egress: %v: removing namespaces\n", got)
			if err := s.Close(); err != nil {
				fmt.Fprintln(os.Stderr, "egress:", err)
			}
			os.Exit(130)
		case <-done:
		}
	}()
	return func() { signal.Stop(sig); close(done) }
}

// run executes a command inside namespace name (ip netns exec) with stdin
// and returns its combined output.
func run(name, stdin string, args ...string) (string, error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", name}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s in %s: %w: %s", strings.Join(args, " "), name, err, out)
	}
	return string(out), nil
}
