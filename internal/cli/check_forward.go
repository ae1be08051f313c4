package cli

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/leash-dev/leash/internal/eval"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
)

// forwardedFrom is the sender of a forwarded connection for `leash check
// --from`: each --from value is a source address, a MAC address or an
// incoming interface, by its form.
type forwardedFrom struct {
	saddr netip.Addr
	mac   string
	iif   string
}

// parseFrom classifies the --from values (at most one of each kind).
func parseFrom(values []string) (forwardedFrom, error) {
	var f forwardedFrom
	for _, v := range values {
		if a, err := netip.ParseAddr(v); err == nil && a.Zone() == "" {
			if f.saddr.IsValid() {
				return f, usage("--from: two source addresses (%v, %s)", f.saddr, v)
			}
			f.saddr = a.Unmap()
			continue
		}
		if hw, err := net.ParseMAC(v); err == nil && len(hw) == 6 {
			if f.mac != "" {
				return f, usage("--from: two MAC addresses (%s, %s)", f.mac, v)
			}
			f.mac = hw.String()
			continue
		}
		if err := ruleset.ValidIfname(v, false); err != nil {
			return f, usage("--from %q: not an address, a MAC address or an interface name (%v)", v, err)
		}
		if f.iif != "" {
			return f, usage("--from: two incoming interfaces (%s, %s)", f.iif, v)
		}
		f.iif = v
	}
	return f, nil
}

// String is how a verdict names the sender: "10.200.1.2 02:00:00:c8:01:02 in lan0".
func (f forwardedFrom) String() string {
	var parts []string
	if f.saddr.IsValid() {
		parts = append(parts, f.saddr.String())
	}
	if f.mac != "" {
		parts = append(parts, f.mac)
	}
	if f.iif != "" {
		parts = append(parts, "in "+f.iif)
	}
	return strings.Join(parts, " ")
}

// checkForwarded judges a connection this host would forward from f to
// every address of t, leaving through out ("" for unknown: rules with via
// then do not match).
func checkForwarded(ctx context.Context, env policy.Env, rs *ruleset.Ruleset, f forwardedFrom, out string, t policy.Target) ([]verdictJSON, error) {
	if out != "" {
		if err := ruleset.ValidIfname(out, false); err != nil {
			return nil, usage("--out: %v", err)
		}
	}
	addrs, err := targetAddrs(ctx, env, t.Host)
	if err != nil {
		return nil, err
	}
	var vs []verdictJSON
	for _, a := range addrs {
		proto, icmpType := t.IPProto(a)
		src := f.saddr
		if src.IsValid() && src.Is4() != a.Is4() {
			src = netip.Addr{} // the other family's source is unknown
		}
		res, err := eval.Evaluate(rs, eval.ForwardedConnection(src, f.mac, f.iif, out, a, proto, t.Port, icmpType))
		if err != nil {
			return nil, err
		}
		v := explain("", 0, 0, t, a, res)
		v.From = f.String()
		if out != "" {
			v.From += fmt.Sprintf(", out %s", out)
		}
		vs = append(vs, v)
	}
	return vs, nil
}

// runCheckForwarded is `leash check --from ...`.
func runCheckForwarded(ctx context.Context, d Deps, g *globals, f *checkFlags, env policy.Env) error {
	if f.user != "" || f.uid >= 0 || f.gid >= 0 {
		return usage("--from judges a forwarded connection, which has no user: drop --user, --uid and --gid")
	}
	from, err := parseFrom(f.from)
	if err != nil {
		return err
	}
	t, err := policy.ParseTarget(f.to, env.Services)
	if err != nil {
		return usage("--to: %w", err)
	}
	rs, err := checkRuleset(ctx, d, g, f.policy)
	if err != nil {
		return err
	}
	out, err := checkForwarded(ctx, env, rs, from, f.out, t)
	if err != nil {
		return err
	}
	// As for local connections: where leash allows, the other tables'
	// chains on the forward hook may still drop (best effort).
	if others, err := engineFor(nil, d, g, nil).Others(); err == nil {
		for i := range out {
			if out[i].Verdict == "allow" {
				a, _ := netip.ParseAddr(out[i].Addr)
				out[i].Caveats = others.Caveats("forward", hookPriority(rs, "forward"), family(a))
			}
		}
	}
	return printCheck(d, g, out)
}

// hookPriority is the priority of rs's base chain on hook (0 if none).
func hookPriority(rs *ruleset.Ruleset, hook string) int32 {
	for _, c := range rs.Chains {
		if c.Hook != nil && c.Hook.Hook == hook {
			return c.Hook.Priority
		}
	}
	return 0
}

// localOif is the outgoing interface of a local connection for rules with
// via: --out, or lo when the destination is this host.
func localOif(pkt eval.Packet, out string) string {
	if out == "" && pkt.Loopback {
		return "lo"
	}
	return out
}

// hasVia reports whether rs has rules that match the outgoing interface
// (via:).
func hasVia(rs *ruleset.Ruleset) bool {
	for _, c := range rs.Chains {
		for _, r := range c.Rules {
			for _, m := range r.Match {
				if m.Kind == ruleset.MatchOifname {
					return true
				}
			}
		}
	}
	return false
}
