package hostrefresh

import (
	"context"
	"net/netip"
	"strings"
	"time"

	"github.com/leash-dev/leash/internal/resolve"
	"github.com/leash-dev/leash/internal/state"
)

// RecordFresh is how recent the refresher's record must be for a plain
// apply or reapply to start from it (WithRecord): the refresher writes it
// at least once per --dns-ceiling (default 1h) while the daemon runs.
const RecordFresh = 24 * time.Hour

// WithRecord is r answering a hostname with what DNS says now together
// with what the refresher's record (hosts.json) holds for it, when the
// record is fresh (written less than RecordFresh before now): its last good
// answer and the departed addresses it keeps while connections live. So a
// plain `leash apply` or `reapply` starts from the last good answers: a
// connection to a departed address is not cut by an apply, a name whose
// lookup fails now keeps its last good addresses, and the refresher sorts
// the rest out at its next step. Without a fresh record it is r itself.
// It keeps r's DNS servers (resolve.ServerLister) and batches
// (resolve.BatchResolver).
func WithRecord(r resolve.Resolver, rec *state.HostsRecord, now time.Time) resolve.Resolver {
	if r == nil || rec == nil || now.Sub(rec.Time) >= RecordFresh || len(rec.Hosts) == 0 {
		return r
	}
	known := map[string][]netip.Addr{}
	for _, h := range rec.Hosts {
		known[h.Name] = append(append(known[h.Name], h.Addrs...), keptOf(h)...)
	}
	return recorded{r: r, known: known}
}

type recorded struct {
	r     resolve.Resolver
	known map[string][]netip.Addr
}

// merge is a lookup's outcome with the record's addresses for host added.
func (rr recorded) merge(host string, res resolve.Result) resolve.Result {
	kept := rr.known[strings.ToLower(strings.TrimSuffix(host, "."))]
	switch {
	case len(kept) == 0:
		return res
	case res.Err != nil:
		return resolve.Result{Addrs: sortedAddrs(kept)} // the last good answer
	}
	return resolve.Result{Addrs: sortedAddrs(append(kept, res.Addrs...))}
}

// LookupHost implements resolve.Resolver.
func (rr recorded) LookupHost(ctx context.Context, host string) ([]netip.Addr, error) {
	addrs, err := rr.r.LookupHost(ctx, host)
	res := rr.merge(host, resolve.Result{Addrs: addrs, Err: err})
	return res.Addrs, res.Err
}

// LookupAll implements resolve.BatchResolver: r's batch (or one lookup per
// name), each merged with the record.
func (rr recorded) LookupAll(ctx context.Context, hosts []string) ([]resolve.Result, error) {
	results, err := resolve.LookupAll(ctx, rr.r, hosts)
	for i := range results {
		results[i] = rr.merge(hosts[i], results[i])
	}
	return results, err
}

// ServerAddrs implements resolve.ServerLister: r's servers.
func (rr recorded) ServerAddrs() ([]netip.AddrPort, error) {
	if sl, ok := rr.r.(resolve.ServerLister); ok {
		return sl.ServerAddrs()
	}
	return nil, nil
}
