package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/leash-dev/leash/internal/netns"
)

// namespaces owns the throwaway namespaces of one run and removes them all
// on Close, on normal return and on SIGINT/SIGTERM alike.
type namespaces struct {
	mu  sync.Mutex
	all []*netns.NS
}

// create makes namespace name with loopback up. Nothing outside it changes.
func (s *namespaces) create(name string) (*netns.NS, error) {
	ns, err := netns.Create(name)
	if err != nil {
		return nil, fmt.Errorf("create namespace %s: %w", name, err)
	}
	s.mu.Lock()
	s.all = append(s.all, ns)
	s.mu.Unlock()
	if _, err := run(ns.Name, "", "ip", "link", "set", "lo", "up"); err != nil {
		return nil, err
	}
	return ns, nil
}

// Close removes every namespace created so far. It is idempotent.
func (s *namespaces) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, ns := range s.all {
		errs = append(errs, ns.Close())
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
