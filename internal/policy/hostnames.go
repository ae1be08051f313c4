package policy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/leash-dev/leash/internal/resolve"
	"go4.org/netipx"
)

// hostLookup is the outcome of resolving one hostname.
type hostLookup struct {
	addrs []netip.Addr
	err   error
}

// hostKey is the canonical form of a hostname: lower case, no final dot.
func hostKey(s string) string { return strings.ToLower(strings.TrimSuffix(s, ".")) }

// lookupHosts resolves every hostname of the file's lists and rules in one
// batch (resolve.LookupAll: concurrently, under the resolver's overall
// deadline) into rv.hosts. The failures of single names are reported where
// the names are used (addHost); what the batch says about them all (how
// many got no answer from the servers, and why) is reported once, at the
// first of them.
func (rv *resolver) lookupHosts() {
	first := map[string]Pos{}
	for _, e := range rv.allDestinations() {
		if kind, _, _ := rv.classify(e.Value); kind == toHost {
			key := hostKey(e.Value)
			if p, ok := first[key]; !ok || before(e.Pos, p) {
				first[key] = e.Pos
			}
		}
	}
	names := slices.Sorted(maps.Keys(first))
	results, summary := lookupAll(rv.ctx, rv.env.Resolver, names)
	rv.hosts = make(map[string]hostLookup, len(names))
	var at *Pos
	for i, name := range names {
		rv.hosts[name] = results[i]
		if p := first[name]; results[i].err != nil && (at == nil || before(p, *at)) {
			at = &p
		}
	}
	if summary != nil && at != nil {
		rv.errorf(*at, "%v", summary)
	}
}

// before orders positions by line, then column.
func before(a, b Pos) bool { return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col }

// lookupAll resolves names with r in one batch, treating a nil resolver as
// one that knows nothing.
func lookupAll(ctx context.Context, r resolve.Resolver, names []string) ([]hostLookup, error) {
	out := make([]hostLookup, len(names))
	if r == nil {
		for i := range out {
			out[i] = lookup(ctx, r, names[i])
		}
		return out, nil
	}
	results, err := resolve.LookupAll(ctx, r, names)
	for i, res := range results {
		out[i] = checked(res.Addrs, res.Err)
	}
	return out, err
}

// lookup resolves one name, treating a nil resolver as one that knows nothing.
func lookup(ctx context.Context, r resolve.Resolver, name string) hostLookup {
	if r == nil {
		return hostLookup{err: errors.New("no resolver is configured")}
	}
	return checked(r.LookupHost(ctx, name))
}

// checked is a lookup's outcome, with no addresses and no error an error.
func checked(addrs []netip.Addr, err error) hostLookup {
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

// hostNames lists the resolved hostnames among entries, through the lists
// they name (each list once: seen), sorted and without repeats (nil:
// none). Names that did not resolve are left out: they added nothing.
func (rv *resolver) hostNames(entries []*Scalar, seen map[string]bool) []string {
	names := map[string]bool{}
	var walk func([]*Scalar)
	walk = func(entries []*Scalar) {
		for _, e := range entries {
			switch kind, _, _ := rv.classify(e.Value); kind {
			case toHost:
				if key := hostKey(e.Value); rv.hosts[key].err == nil {
					names[key] = true
				}
			case toList:
				if l := rv.lists[e.Value]; l != nil && !seen[e.Value] {
					seen[e.Value] = true
					walk(l.decl.Entries)
				}
			}
		}
	}
	walk(entries)
	if len(names) == 0 {
		return nil
	}
	return slices.Sorted(maps.Keys(names))
}
