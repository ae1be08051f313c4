// Package proof proves a compiled ruleset against the real kernel: every
// case runs as a real process with the case's uid, gid and groups inside a
// sandbox whose client namespace holds the ruleset, and its outcome is
// compared with the expectation and with what `leash check` (internal/eval)
// says of the same connection. `leash test` and the kernel tests of the
// examples both run through Run.
package proof

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/leash-dev/leash/internal/eval"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/sandbox"
)

// Prober runs one connection attempt as a real process, or one exchange
// with a real process's server (sandbox.Sandbox).
type Prober interface {
	Probe(ctx context.Context, p sandbox.Probe) (sandbox.Outcome, error)
	Serve(ctx context.Context, in sandbox.Inbound) (sandbox.Outcome, error)
}

// Case is one connection attempt to prove.
type Case struct {
	// Source is the test case as written, or how a derived probe was made.
	Source string          `json:"source"`
	Pos    policy.Pos      `json:"pos,omitempty"`
	As     policy.Identity `json:"as"`
	Target policy.Target   `json:"target"`
	Addr   netip.Addr      `json:"addr"`
	// Inbound: a peer at Addr connects to As's server on Target's port;
	// what is judged is the server's replies (see sandbox.Inbound).
	Inbound bool `json:"inbound,omitempty"`
	// Expect is allow, deny or reject; empty for derived probes, which only
	// prove that the kernel and leash check agree.
	Expect policy.Action `json:"expect,omitempty"`
	// Err, when set, fails the case without running it.
	Err string `json:"error,omitempty"`
	// From: a connection forwarded from this LAN host (forward.go).
	From *policy.Sender `json:"from,omitempty"`
	// At is when the case's connection is opened (`at:`), zero for now:
	// the caller applies the ruleset with its windows shifted so that the
	// kernel's now is At (compile.ShiftWindows; see at.go).
	At time.Time `json:"at,omitempty"`
}

// Result is a case with what the kernel did and what leash check says.
type Result struct {
	Case
	Outcome sandbox.Outcome `json:"outcome"`
	// Check is leash check's verdict: allow, deny or reject, and why.
	Check   string `json:"check"`
	CheckBy string `json:"check_by,omitempty"`
	Where   string `json:"where,omitempty"`
	Pass    bool   `json:"pass"`
	Why     string `json:"why,omitempty"`
}

// Options tune Run.
type Options struct {
	// Timeout is how long a probe waits for an answer (default 1s); a
	// dropped TCP SYN shows as a timeout.
	Timeout time.Duration
	// Local lists the client namespace's own addresses (for loopback).
	Local []netip.Addr
	// Cgroup gives a program case's cgroup path (Identity.Cgroup) the
	// directory its probe is born in and the ids of it and its ancestors
	// (what leash check judges); nil: program cases fail.
	Cgroup func(path string) (dir string, ids []uint64, err error)
	// Now is the kernel's clock, the time leash check judges a case at
	// (time windows); nil is the real clock.
	Now func() time.Time
}

// Run proves every case against rs, which the caller has applied in the
// prober's client namespace. It stops early only if ctx is cancelled.
func Run(ctx context.Context, p Prober, rs *ruleset.Ruleset, cases []Case, opt Options) ([]Result, error) {
	out := make([]Result, 0, len(cases))
	for _, c := range cases {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		r, err := runCase(ctx, p, rs, c, opt)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

func runCase(ctx context.Context, p Prober, rs *ruleset.Ruleset, c Case, opt Options) (Result, error) {
	r := Result{Case: c}
	if c.Err != "" {
		r.Why = c.Err
		return r, nil
	}
	if c.From != nil {
		return runForwarded(ctx, p, rs, c, opt)
	}
	var dir string
	var ids []uint64
	if c.As.Cgroup != "" {
		if opt.Cgroup == nil {
			r.Why = "this run cannot place probes in cgroups"
			return r, nil
		}
		var err error
		if dir, ids, err = opt.Cgroup(c.As.Cgroup); err != nil {
			return r, err
		}
	}
	now := time.Now
	if opt.Now != nil {
		now = opt.Now
	}
	verdict, err := check(rs, c, opt.Local, ids, now())
	if err != nil {
		return r, err
	}
	r.Check, r.CheckBy, r.Where = verdict.word, verdict.by, verdict.where
	if c.Inbound {
		r.Outcome, err = p.Serve(ctx, sandbox.Inbound{
			UID: c.As.UID, GID: c.As.GID, Groups: c.As.Groups,
			Proto: probeProto(c.Target, c.Addr), Port: c.Target.Port, Remote: c.Addr, Timeout: opt.Timeout,
		})
	} else {
		r.Outcome, err = p.Probe(ctx, sandbox.Probe{
			UID: c.As.UID, GID: c.As.GID, Groups: c.As.Groups,
			Proto: probeProto(c.Target, c.Addr), Addr: c.Addr, Port: c.Target.Port, Timeout: opt.Timeout, Cgroup: dir,
		})
	}
	if err != nil {
		return r, fmt.Errorf("probe %s as %s: %w", c.Describe(), c.As.Desc, err)
	}
	if !r.Outcome.Allowed() && r.Check == "allow" {
		// A limited rule allows within its budget; the kernel's budgets
		// are state check cannot see: judge the connection beyond them.
		if over, err := checkOverLimit(rs, c, opt.Local, ids, now()); err == nil && over.word != "" {
			r.Check, r.CheckBy, r.Where = over.word, over.by, over.where
		}
	}
	r.Pass, r.Why = judge(c.Expect, r.Outcome.Allowed(), r.Check)
	return r, nil
}

// judge: the kernel must do what the case expects, and leash check must say
// what the kernel did.
func judge(expect policy.Action, kernelAllowed bool, check string) (bool, string) {
	kernel := "denied"
	if kernelAllowed {
		kernel = "allowed"
	}
	switch {
	case expect != "" && (expect == policy.Allow) != kernelAllowed:
		return false, fmt.Sprintf("expected %s, the kernel %s it", expect, kernel)
	case (check == "allow") != kernelAllowed:
		return false, fmt.Sprintf("leash check says %s, but the kernel %s it", check, kernel)
	case expect == policy.Reject && check != "reject":
		return false, fmt.Sprintf("expected reject, leash check says %s", check)
	}
	return true, ""
}

type verdict struct{ word, by, where string }

func check(rs *ruleset.Ruleset, c Case, local []netip.Addr, cgroup []uint64, now time.Time) (verdict, error) {
	return checkPacket(rs, c, local, cgroup, now, false)
}

// checkOverLimit is check of the connection beyond every limit it meets;
// its word is "" when that changes nothing (no limit decided).
func checkOverLimit(rs *ruleset.Ruleset, c Case, local []netip.Addr, cgroup []uint64, now time.Time) (verdict, error) {
	v, err := checkPacket(rs, c, local, cgroup, now, true)
	if err != nil || v.by == "" || !strings.HasSuffix(v.by, "/limit") {
		return verdict{}, err
	}
	return v, nil
}

func checkPacket(rs *ruleset.Ruleset, c Case, local []netip.Addr, cgroup []uint64, now time.Time, over bool) (verdict, error) {
	proto, icmpType := c.Target.IPProto(c.Addr)
	pkt := eval.NewConnection(c.As.UID, c.As.GID, c.Addr, proto, c.Target.Port, icmpType, local)
	pkt.Oifname = sandboxOif(pkt) // for rules with via
	if c.Inbound {
		// The server's replies: from its port to the peer's, in the
		// reply direction of a connection conntrack knows.
		pkt.Dport, pkt.CtReply, pkt.CtEstablished = sandbox.InboundSourcePort, true, true
	}
	pkt.Cgroup = cgroup
	pkt.At, pkt.OverLimit = now, over
	res, err := eval.Evaluate(rs, pkt)
	if err != nil {
		return verdict{}, err
	}
	return verdictOf(res), nil
}

// verdictOf is leash check's word for res, and the rule that decided.
func verdictOf(res eval.Result) verdict {
	v := verdict{word: "reject"}
	switch res.Verdict.Kind {
	case ruleset.Accept:
		v.word = "allow"
	case ruleset.Drop:
		v.word = "deny"
	}
	if res.Rule != nil {
		v.by, v.where = res.Rule.Origin.ID, res.Rule.Origin.Where()
	}
	return v
}

func probeProto(t policy.Target, a netip.Addr) string {
	switch t.Proto {
	case "tcp":
		return sandbox.TCP
	case "udp":
		return sandbox.UDP
	}
	if a.Is4() {
		return sandbox.ICMP
	}
	return sandbox.ICMPv6
}

// Describe is the connection as one line: ADDR:PORT/PROTO (or a ping) for
// an outgoing case, "ADDR:PORT -> :PORT/PROTO (inbound)" for a connection
// to the subject's server.
func (c Case) Describe() string {
	if c.Inbound {
		return fmt.Sprintf("%v -> :%d/%s (inbound)", netip.AddrPortFrom(c.Addr, sandbox.InboundSourcePort), c.Target.Port, c.Target.Proto)
	}
	return c.Target.Describe(c.Addr)
}

// FromTests turns resolved test cases into cases, one per address; an
// inbound case comes from each of the sandbox's remote addresses (IPv4 and
// IPv6).
func FromTests(tcs []*policy.TestCase) []Case {
	var out []Case
	for _, tc := range tcs {
		base := Case{Source: tc.Text, Pos: tc.Pos, As: tc.As, Target: tc.Target, Expect: tc.Expect, Err: tc.Err, Inbound: tc.Inbound, From: tc.From, At: tc.At}
		if tc.Err != "" {
			out = append(out, base)
			continue
		}
		addrs := tc.Addrs
		if tc.Inbound {
			addrs = sandbox.RemoteAddrs()
		}
		for _, a := range addrs {
			c := base
			c.Addr = a
			out = append(out, c)
		}
	}
	return out
}
