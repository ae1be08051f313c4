package policy

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/leash-dev/leash/internal/resolve"
	"go4.org/netipx"
)

// maxLookups bounds the number of concurrent hostname lookups.
const maxLookups = 8

// hostLookup is the outcome of resolving one hostname.
type hostLookup struct {
	addrs []netip.Addr
	err   error
}

// hostKey is the canonical form of a hostname: lower case, no final dot.
func hostKey(s string) string { return strings.ToLower(strings.TrimSuffix(s, ".")) }

// lookupHosts resolves every hostname of the file's lists and rules,
// concurrently, into rv.hosts.
func (rv *resolver) lookupHosts() {
	var names []string
	for _, e := range rv.allDestinations() {
		if kind, _, _ := rv.classify(e.Value); kind == toHost {
			names = append(names, hostKey(e.Value))
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	results := make([]hostLookup, len(names))
	sem := make(chan struct{}, maxLookups)
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i] = lookup(rv.ctx, rv.env.Resolver, name)
		})
	}
	wg.Wait()
	rv.hosts = make(map[string]hostLookup, len(names))
	for i, name := range names {
		rv.hosts[name] = results[i]
	}
}

// lookup resolves one name, treating a nil resolver as one that knows nothing.
func lookup(ctx context.Context, r resolve.Resolver, name string) hostLookup {
	if r == nil {
		return hostLookup{err: errors.New("no resolver is configured")}
	}
	addrs, err := r.LookupHost(ctx, name)
	if err == nil && len(addrs) == 0 {
		err = errors.New("no addresses")
	}
	return hostLookup{addrs: addrs, err: err}
}

// allDestinations lists every `to` and destination list entry of the file.
func (rv *resolver) allDestinations() []*Scalar {
	var out []*Scalar
	for _, l := range rv.file.Destinations {
		out = append(out, l.Entries...)
	}
	for _, p := range rv.file.Policies {
		for _, r := range p.Rules {
			out = append(out, r.To...)
		}
	}
	return out
}

// addHost adds the addresses of the hostname e to b and records them in
// rv.hostAddrs, or reports why it did not resolve.
func (rv *resolver) addHost(b *netipx.IPSetBuilder, e *Scalar) {
	key := hostKey(e.Value)
	res := rv.hosts[key]
	if res.err != nil {
		rv.errorf(e.Pos, "%s", rv.hostError(e.Value, res.err))
		return
	}
	for _, a := range res.addrs {
		b.Add(a.Unmap())
	}
	if rv.hostAddrs == nil {
		rv.hostAddrs = map[string][]netip.Addr{}
	}
	rv.hostAddrs[key] = res.addrs
}

// hostError explains a failed lookup. A single word is most likely a
// misspelt list name, so that case says so.
func (rv *resolver) hostError(name string, err error) string {
	if !strings.Contains(strings.TrimSuffix(name, "."), ".") {
		var known []string
		for n := range rv.lists {
			known = append(known, n)
		}
		slices.Sort(known)
		return fmt.Sprintf("%q is neither a destination list nor a resolvable hostname (%v)%s", name, err, suggest(name, known))
	}
	return fmt.Sprintf("cannot resolve hostname %q: %v; check the name or add it to /etc/hosts", name, err)
}
