package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/leash-dev/leash/internal/hostcmd"
	"github.com/leash-dev/leash/internal/netns"
)

// setupTimeout bounds New when ctx has no earlier deadline.
const setupTimeout = 30 * time.Second

// Config describes a sandbox.
type Config struct {
	// ProbeCommand is the argv prefix of the probe program, e.g.
	// [leashBinary, "sandbox-probe"]; the probe's own arguments follow it
	// (see ProbeMain). The sandbox copies the executable (argv[0]) into its
	// own 0755 temporary directory so that unprivileged uids can run it.
	// Empty means no probes: Probe fails, and the caller works in the Client
	// and Peer namespaces itself (the egress benchmark does).
	ProbeCommand []string

	// Hosts are the names the peer's DNS server answers (A and AAAA);
	// other names get NXDOMAIN.
	Hosts map[string][]netip.Addr

	// Logger receives debug and cleanup messages; nil discards them.
	Logger *slog.Logger

	// Runner runs the `ip` commands; nil means ExecRunner.
	Runner Runner

	// LAN adds a LAN host behind the client, which then routes and
	// masquerades its traffic to the peer (router_linux.go).
	LAN bool
}

// Sandbox is a pair of throwaway network namespaces: the client, where a
// policy is loaded and probes run, and the peer, which answers everything.
type Sandbox struct {
	log    *slog.Logger
	client *netns.NS
	peerNS *netns.NS
	lan    *netns.NS // Config.LAN only
	// lanName is the router's name of its LAN link ("" for lan0), run
	// the Runner (SetLANHost).
	lanName string
	run     Runner
	peer    *peer
	// local answers destinations on the client itself (loopback, its own
	// addresses): listeners of root in the client namespace, as a local
	// service of another user would be.
	local     *peer
	dir       string   // temporary directory holding the probe executable
	probeArgv []string // ProbeCommand with argv[0] replaced by the copy

	life       context.Context // cancelled by Close: stops in-flight probes
	endLife    context.CancelFunc
	stopAuto   func() bool // unregisters the close-on-ctx-done hook
	probes     sync.WaitGroup
	mu         sync.Mutex
	closed     bool
	closeError error
}

// New builds a sandbox. ctx bounds the setup and the sandbox's life: when ctx
// is done (e.g. on SIGINT), the sandbox closes itself. The caller must still
// call Close, which waits for the cleanup and reports its errors.
//
// New first removes the leftovers of sandboxes whose process has died. It
// needs root (network namespaces) and iproute2's `ip`; the error says which
// is missing.
func New(ctx context.Context, cfg Config) (*Sandbox, error) {
	run := cfg.Runner
	if run == nil {
		run = ExecRunner
	}
	if err := preflight(os.Geteuid(), cfg.Runner == nil, hostcmd.Find); err != nil {
		return nil, err
	}
	z, err := newZone(cfg.Hosts)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	removeStale(log)

	s := &Sandbox{log: log, run: run}
	s.life, s.endLife = context.WithCancel(context.Background())
	setupCtx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	if err := s.setup(setupCtx, run, cfg.ProbeCommand, z, cfg.LAN); err != nil {
		s.Close()
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", err, context.Cause(ctx))
		}
		return nil, err
	}
	s.stopAuto = context.AfterFunc(ctx, func() { s.Close() })
	log.Debug("sandbox: ready", "client", s.client.Name, "peer", s.peerNS.Name)
	return s, nil
}

// preflight checks the privileges and tools New needs.
func preflight(euid int, needIP bool, lookPath func(string) (string, error)) error {
	if euid != 0 {
		return fmt.Errorf("sandbox: leash test needs root to create network namespaces and run probes as other users (running as uid %d)", euid)
	}
	if needIP {
		if _, err := lookPath("ip"); err != nil {
			return fmt.Errorf("sandbox: leash test needs the `ip` command from iproute2: %w", err)
		}
	}
	return nil
}

// setup creates everything, recording each part on s as soon as it exists so
// that Close can remove it whatever step fails.
func (s *Sandbox) setup(ctx context.Context, run Runner, probeCommand []string, z zone, lan bool) error {
	pid := os.Getpid()
	var err error
	if s.dir, err = makeWorkDir(pid); err != nil {
		return err
	}
	if len(probeCommand) > 0 {
		if s.probeArgv, err = installProbe(probeCommand, s.dir); err != nil {
			return err
		}
	}
	if s.client, s.peerNS, err = createNamespaces(pid); err != nil {
		return err
	}
	if err := configure(ctx, run, s.client, s.peerNS); err != nil {
		return err
	}
	if lan {
		if err := s.createLAN(pid); err != nil {
			return err
		}
		if err := configureLAN(ctx, run, s.client, s.lan); err != nil {
			return err
		}
	}
	s.peer = newPeer(s.peerNS, s.log)
	s.local = newPeer(s.client, s.log)
	if err := startDNS(s.peer, z); err != nil {
		return err
	}
	return ctx.Err()
}

// Client is the namespace where the policy under test is loaded and where
// probes run. It stays valid until Close.
func (s *Sandbox) Client() *netns.NS { return s.client }

// Peer is the namespace at the other end of the client's veth. Every address
// outside the link's own prefixes is local there ("AnyIP"), so a socket bound
// to 0.0.0.0 in Peer receives what the client sends to, e.g., 203.0.113.9.
// It stays valid until Close.
func (s *Sandbox) Peer() *netns.NS { return s.peerNS }

// DNSServer is the peer's DNS server as reached from the client over IPv4
// (10.200.0.1:53, UDP and TCP).
func (s *Sandbox) DNSServer() netip.AddrPort { return netip.AddrPortFrom(peerAddr4(), dnsPort) }

// DNSServer6 is the same DNS server over IPv6 ([fd00:200::1]:53).
func (s *Sandbox) DNSServer6() netip.AddrPort { return netip.AddrPortFrom(peerAddr6(), dnsPort) }

// Close stops the probes and servers, removes both namespaces (which removes
// the veth pair) and the temporary directory. It is idempotent and safe for
// concurrent use; every call returns the first cleanup's result.
func (s *Sandbox) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.closeError
	}
	s.closed = true
	if s.stopAuto != nil {
		s.stopAuto()
	}
	s.endLife()
	s.probes.Wait()

	var errs []error
	for _, pr := range []*peer{s.peer, s.local} {
		if pr != nil {
			errs = append(errs, pr.close())
		}
	}
	for _, ns := range []*netns.NS{s.client, s.peerNS, s.lan} {
		if ns != nil {
			errs = append(errs, ns.Close())
		}
	}
	if s.dir != "" {
		if err := os.RemoveAll(s.dir); err != nil {
			errs = append(errs, fmt.Errorf("sandbox: remove %s: %w", s.dir, err))
		}
	}
	s.closeError = errors.Join(errs...)
	s.log.Debug("sandbox: closed", "err", s.closeError)
	return s.closeError
}

// begin registers an in-flight probe; it fails once Close has started.
func (s *Sandbox) begin() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("sandbox: probe on a closed sandbox")
	}
	s.probes.Add(1)
	return nil
}
