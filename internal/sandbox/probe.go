package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"time"
)

// Verdicts a probe can report in Outcome.Result.
const (
	Connected = "connected" // the peer answered: handshake, UDP echo or ICMP echo reply
	Refused   = "refused"   // ECONNREFUSED: a TCP reset or an ICMP port unreachable
	Blocked   = "blocked"   // the kernel failed the attempt with a policy-type errno (see package doc)
	Timeout   = "timeout"   // nothing came back before Probe.Timeout (a silent drop)
)

// Protocols a probe can use in Probe.Proto.
const (
	TCP    = "tcp"
	UDP    = "udp"
	ICMP   = "icmp"   // IPv4 echo request over an unprivileged ping socket
	ICMPv6 = "icmpv6" // IPv6 echo request over an unprivileged ping socket
)

// DefaultProbeTimeout is used when Probe.Timeout is zero.
const DefaultProbeTimeout = time.Second

// maxProbeTimeout bounds Probe.Timeout so a probe can never hang a run.
const maxProbeTimeout = 30 * time.Second

// Probe is one connection attempt made by a real process with the given
// credentials from the sandbox's client namespace.
type Probe struct {
	UID, GID uint32
	Groups   []uint32 // supplementary groups; nil means none

	Proto   string // TCP, UDP, ICMP or ICMPv6
	Addr    netip.Addr
	Port    uint16        // required for TCP and UDP, ignored for ICMP
	Timeout time.Duration // zero means DefaultProbeTimeout
	// From is where the probe runs: "" for the client, FromLAN for the
	// LAN host of a sandbox with Config.LAN (its traffic is forwarded).
	From string
	// Cgroup, if set, is the cgroup2 directory (absolute) the probe process
	// is born in (CLONE_INTO_CGROUP): a program of that cgroup.
	Cgroup string
}

// Outcome is what a probe observed.
type Outcome struct {
	Result  string        `json:"result"`          // Connected, Refused, Blocked or Timeout
	Errno   string        `json:"errno,omitempty"` // e.g. "ECONNREFUSED", "EPERM"; empty when none
	Elapsed time.Duration `json:"elapsed_ns"`      // time spent in the attempt itself
	Detail  string        `json:"detail,omitempty"`

	// The credentials the probe process actually ran with, as it saw them.
	UID    uint32   `json:"uid"`
	GID    uint32   `json:"gid"`
	Groups []uint32 `json:"groups,omitempty"`
}

// Allowed reports whether the traffic got through.
func (o Outcome) Allowed() bool { return o.Result == Connected }

// String is a short human form, e.g. "blocked (EPERM) after 1ms".
func (o Outcome) String() string {
	s := o.Result
	if o.Errno != "" {
		s += " (" + o.Errno + ")"
	}
	return fmt.Sprintf("%s after %v", s, o.Elapsed.Round(time.Millisecond))
}

// withDefaults fills Timeout and checks that p describes a possible attempt.
func (p Probe) withDefaults() (Probe, error) {
	if p.Timeout == 0 {
		p.Timeout = DefaultProbeTimeout
	}
	if p.Timeout < 0 || p.Timeout > maxProbeTimeout {
		return p, fmt.Errorf("sandbox: probe timeout %v out of range (0, %v]", p.Timeout, maxProbeTimeout)
	}
	if !p.Addr.IsValid() {
		return p, fmt.Errorf("sandbox: probe has no destination address")
	}
	p.Addr = p.Addr.Unmap()
	switch p.Proto {
	case TCP, UDP:
		if p.Port == 0 {
			return p, fmt.Errorf("sandbox: %s probe to %v needs a port", p.Proto, p.Addr)
		}
	case ICMP:
		if !p.Addr.Is4() {
			return p, fmt.Errorf("sandbox: icmp probe needs an IPv4 address, got %v (use icmpv6)", p.Addr)
		}
		p.Port = 0
	case ICMPv6:
		if !p.Addr.Is6() {
			return p, fmt.Errorf("sandbox: icmpv6 probe needs an IPv6 address, got %v (use icmp)", p.Addr)
		}
		p.Port = 0
	default:
		return p, fmt.Errorf("sandbox: unknown probe protocol %q (want tcp, udp, icmp or icmpv6)", p.Proto)
	}
	return p, nil
}

// args is the probe program's command line after the ProbeCommand prefix:
// PROTO ADDR PORT TIMEOUT. Positional, so a CLI wrapper needs no flag parsing.
func (p Probe) args() []string {
	return []string{p.Proto, p.Addr.String(), strconv.Itoa(int(p.Port)), p.Timeout.String()}
}

// parseProbeArgs is the inverse of Probe.args. Credentials are not part of
// the command line: they are the process's own.
func parseProbeArgs(args []string) (Probe, error) {
	if len(args) != 4 {
		return Probe{}, fmt.Errorf("usage: PROTO ADDR PORT TIMEOUT (got %d arguments)", len(args))
	}
	addr, err := netip.ParseAddr(args[1])
	if err != nil {
		return Probe{}, fmt.Errorf("address: %w", err)
	}
	port, err := strconv.ParseUint(args[2], 10, 16)
	if err != nil {
		return Probe{}, fmt.Errorf("port: %w", err)
	}
	timeout, err := time.ParseDuration(args[3])
	if err != nil {
		return Probe{}, fmt.Errorf("timeout: %w", err)
	}
	p := Probe{Proto: args[0], Addr: addr, Port: uint16(port), Timeout: timeout}
	return p.withDefaults()
}

// ProbeMain is the probe program: `leash sandbox-probe PROTO ADDR PORT TIMEOUT`,
// or a test binary re-executed by the sandbox (see sandboxtest.Main). It makes
// one attempt from the current process, with the current process's
// credentials and network namespace, prints the Outcome as one JSON line on
// stdout and returns the exit code: 0 when a verdict was printed, 2 on bad
// arguments, 1 when the attempt could not be made or ended in an errno that
// is no verdict (the reason goes to stderr).
//
// `serve PROTO ADDR PORT TIMEOUT` serves one inbound exchange instead (see
// Inbound): bind ADDR:PORT, print a listening line, echo what one peer sends.
func ProbeMain(args []string, stdout io.Writer) int {
	if len(args) > 0 && args[0] == serveMode {
		return serveMain(args[1:], stdout)
	}
	p, err := parseProbeArgs(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sandbox-probe: %v\n", err)
		return 2
	}
	out, err := attempt(p)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sandbox-probe: %s %v: %v\n", p.Proto, netip.AddrPortFrom(p.Addr, p.Port), err)
		return 1
	}
	out.UID, out.GID, out.Groups = ownCredentials()
	if err := json.NewEncoder(stdout).Encode(out); err != nil {
		fmt.Fprintf(os.Stderr, "sandbox-probe: write outcome: %v\n", err)
		return 1
	}
	return 0
}

// ownCredentials returns the process's uid, gid and supplementary groups.
func ownCredentials() (uid, gid uint32, groups []uint32) {
	gs, _ := os.Getgroups()
	for _, g := range gs {
		groups = append(groups, uint32(g))
	}
	return uint32(os.Getuid()), uint32(os.Getgid()), groups
}
