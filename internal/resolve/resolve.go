// Package resolve turns hostnames into addresses for the policy front end.
//
// Two resolvers are provided: Static, a fixed table for tests and sandboxes,
// and DNS, which reads a hosts file and then asks DNS servers directly with
// github.com/miekg/dns (so that record TTLs are available for refresh), as
// resolv.conf says, with retries. LookupAll resolves the hostnames of one
// policy together: concurrently and, for DNS, within one overall deadline.
package resolve

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
)

// Resolver looks up the IPv4 and IPv6 addresses of a hostname. Results are
// sorted and unique. A name without addresses is an error.
type Resolver interface {
	LookupHost(ctx context.Context, host string) ([]netip.Addr, error)
}

// NotFoundError says that a name does not exist or has no A or AAAA records.
type NotFoundError struct {
	Host   string
	Reason string // e.g. "NXDOMAIN", "no A or AAAA records"
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("%s: %s", e.Host, e.Reason)
}

// static is the Resolver returned by Static.
type static map[string][]netip.Addr

// Static returns a Resolver that answers from table alone. Names match
// case-insensitively and with or without a trailing dot; unknown names fail
// with a *NotFoundError.
func Static(table map[string][]netip.Addr) Resolver {
	s := static{}
	for name, addrs := range table {
		key := canonical(name)
		s[key] = sortUnique(append(s[key], addrs...))
	}
	return s
}

// LookupHost implements Resolver.
func (s static) LookupHost(_ context.Context, host string) ([]netip.Addr, error) {
	addrs := s[canonical(host)]
	if len(addrs) == 0 {
		return nil, &NotFoundError{Host: host, Reason: "not in the static table"}
	}
	return slices.Clone(addrs), nil
}

// canonical lower-cases name and strips one trailing dot.
func canonical(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, "."))
}

// sortUnique sorts addrs and removes duplicates, in place.
func sortUnique(addrs []netip.Addr) []netip.Addr {
	slices.SortFunc(addrs, netip.Addr.Compare)
	return slices.Compact(addrs)
}

// Result is the outcome of looking up one name: its addresses, or why not.
type Result struct {
	Addrs []netip.Addr
	Err   error
}

// BatchResolver is a Resolver that looks many names up together, under one
// deadline (DNS does).
type BatchResolver interface {
	Resolver
	// LookupAll returns one Result per host, in order. The error, when
	// not nil, sums up failures that concern the whole batch rather than
	// one name (servers that did not answer); the Results still say what
	// happened to each name.
	LookupAll(ctx context.Context, hosts []string) ([]Result, error)
}

// LookupAll looks every host up with r: as one batch when r is a
// BatchResolver, else DefaultParallel at a time with LookupHost.
func LookupAll(ctx context.Context, r Resolver, hosts []string) ([]Result, error) {
	if b, ok := r.(BatchResolver); ok {
		return b.LookupAll(ctx, hosts)
	}
	return lookupEach(ctx, r, hosts, DefaultParallel), nil
}

// lookupEach looks every host up with r.LookupHost, parallel at a time.
func lookupEach(ctx context.Context, r Resolver, hosts []string, parallel int) []Result {
	results := make([]Result, len(hosts))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, host := range hosts {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			addrs, err := r.LookupHost(ctx, host)
			results[i] = Result{Addrs: addrs, Err: err}
		})
	}
	wg.Wait()
	return results
}
