package hostrefresh

import (
	"context"
	"net/netip"
	"strings"

	"github.com/leash-dev/leash/internal/engine"
	"github.com/leash-dev/leash/internal/resolve"
	"github.com/leash-dev/leash/internal/state"
)

// EngineUpdater is the Updater of leash daemon: engine.Engine.RefreshHosts
// with the current generation's stored policy compiled again, hostnames
// answered from the refresher's answers (Answers) rather than DNS, so the
// table is by construction what a fresh compile with those answers gives.
type EngineUpdater struct {
	Engine *engine.Engine
	// Compile compiles a policy's text as the daemon does, with
	// hostnames resolved by r.
	Compile func(ctx context.Context, path string, src []byte, r resolve.Resolver) (*engine.Compiled, error)
	// Fallback is the daemon's resolver: it resolves a name the answers
	// lack (a policy applied since the refresher last looked), and its
	// servers are the DNS exemption's (Answers). nil: such a name is not
	// found, and no servers are exempted.
	Fallback resolve.Resolver
}

// RefreshHosts implements Updater.
func (u EngineUpdater) RefreshHosts(ctx context.Context, answers map[string][]netip.Addr) (*engine.HostsResult, error) {
	return u.Engine.RefreshHosts(ctx, func(ctx context.Context, gen *state.Generation) (*engine.Compiled, error) {
		return u.Compile(ctx, gen.PolicyFile, gen.Policy, Answers{Hosts: answers, Fallback: u.Fallback})
	})
}

// Answers is a resolver that answers from Hosts (names as the policy
// records them: lower case, no final dot), then from Fallback, whose DNS
// servers it names (resolve.ServerLister: the DNS exemption compiles as
// it did at apply).
type Answers struct {
	Hosts    map[string][]netip.Addr
	Fallback resolve.Resolver
}

// LookupHost implements resolve.Resolver.
func (a Answers) LookupHost(ctx context.Context, host string) ([]netip.Addr, error) {
	if addrs, ok := a.Hosts[strings.ToLower(strings.TrimSuffix(host, "."))]; ok && len(addrs) > 0 {
		return append([]netip.Addr(nil), addrs...), nil
	}
	if a.Fallback == nil {
		return nil, &resolve.NotFoundError{Host: host, Reason: "not among the refreshed names"}
	}
	return a.Fallback.LookupHost(ctx, host)
}

// ServerAddrs implements resolve.ServerLister: Fallback's servers.
func (a Answers) ServerAddrs() ([]netip.AddrPort, error) {
	if sl, ok := a.Fallback.(resolve.ServerLister); ok {
		return sl.ServerAddrs()
	}
	return nil, nil
}
