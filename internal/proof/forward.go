package proof

import (
	"context"
	"fmt"

	"github.com/leash-dev/leash/internal/eval"
	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/sandbox"
)

// LANProber is a Prober with a LAN host behind its client (a
// sandbox.Sandbox made with Config.LAN): cases with From run there, and
// the client forwards them.
type LANProber interface {
	Prober
	SetLANHost(ctx context.Context, h sandbox.LANHost) (sandbox.LANHost, error)
}

// HasForwarded reports whether any case is a forwarded connection (the
// sandbox then needs Config.LAN).
func HasForwarded(cases []Case) bool {
	for _, c := range cases {
		if c.From != nil {
			return true
		}
	}
	return false
}

// runForwarded proves a case with From: the LAN host becomes the sender,
// sends the connection through the client (the router holding rs), and
// leash check judges the same forwarded packet: from the host's address of
// the destination's family and its MAC, in on its interface, out on the
// sandbox's upstream link.
func runForwarded(ctx context.Context, p Prober, rs *ruleset.Ruleset, c Case, opt Options) (Result, error) {
	r := Result{Case: c}
	lp, ok := p.(LANProber)
	if !ok {
		return r, fmt.Errorf("case %s: a forwarded case needs a sandbox with a LAN host", c.Source)
	}
	h, err := lp.SetLANHost(ctx, sandbox.LANHost{MAC: c.From.MAC, Addr4: c.From.Addr4, Addr6: c.From.Addr6, Interface: c.From.Interface})
	if err != nil {
		return r, err
	}
	src := h.Addr4
	if c.Addr.Is6() {
		src = h.Addr6
	}
	proto, icmpType := c.Target.IPProto(c.Addr)
	res, err := eval.Evaluate(rs, eval.ForwardedConnection(src, h.MAC, h.Interface, sandbox.UpstreamLink, c.Addr, proto, c.Target.Port, icmpType))
	if err != nil {
		return r, err
	}
	v := verdictOf(res)
	r.Check, r.CheckBy, r.Where = v.word, v.by, v.where
	r.Outcome, err = p.Probe(ctx, sandbox.Probe{From: sandbox.FromLAN,
		Proto: probeProto(c.Target, c.Addr), Addr: c.Addr, Port: c.Target.Port, Timeout: opt.Timeout})
	if err != nil {
		return r, fmt.Errorf("probe %s from %s: %w", c.Target.Describe(c.Addr), c.From, err)
	}
	r.Pass, r.Why = judge(c.Expect, r.Outcome.Allowed(), r.Check)
	return r, nil
}

// sandboxOif is the interface a connection from the sandbox's client
// leaves through: lo for the client itself, else its only link.
func sandboxOif(pkt eval.Packet) string {
	if pkt.Loopback {
		return "lo"
	}
	return sandbox.UpstreamLink
}
