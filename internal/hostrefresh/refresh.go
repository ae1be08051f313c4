// Package hostrefresh keeps the hostnames of the policy in force in step
// with DNS while the daemon runs. A hostname's addresses are compiled like
// any address, into the shared lookups (per-packet cost does not grow with
// the number of hostnames), so a refresh is a recompile: the generation's
// stored policy compiled again with the refreshed answers, diffed against
// the table loaded, and only the changed elements sent (or, when the
// layout changed, a full replace): engine.Engine.RefreshHosts. It is pure
// scheduling logic over injected parts: a clock, a resolver that returns
// TTLs, a view of live connections, the engine's refresh and the state
// directory (the generation in force, its own record).
//
// Rules, per hostname:
//
//   - refreshed at its answer's TTL clamped to [Floor, Ceiling] (a name
//     from the hosts file, TTL 0, at Ceiling); a failure retries at Floor;
//   - at most MaxAddrs addresses (the ones already in the set first, so a
//     big rotating answer does not churn);
//   - an address that leaves the answer stays in the set while a
//     connection to it lives (Conns) and at least Grace after it left;
//   - a failed lookup or an empty answer changes nothing: the last good
//     answer stays (a set is never emptied by DNS);
//   - the answers (with the kept addresses) are sent when they change, or
//     when the table was loaded again; the engine changes only the
//     elements that differ from a fresh compile, in one transaction, and
//     records them beside the generation (state.Refreshed); the record
//     (state.HostsRecord, hosts.json) is written after every step that
//     changed it: a restarted daemon starts from the last good answers,
//     and `leash status` reads them.
//
// The compiled elements have no timeout (the table works without the
// daemon), so removals are explicit deletes.
package hostrefresh

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/leash-dev/leash/internal/clock"
	"github.com/leash-dev/leash/internal/engine"
	"github.com/leash-dev/leash/internal/state"
)

// Defaults of Config.
const (
	DefaultFloor    = 30 * time.Second
	DefaultCeiling  = time.Hour
	DefaultGrace    = 5 * time.Minute
	DefaultMaxAddrs = 32
	// DefaultLookupTimeout bounds one name's lookup.
	DefaultLookupTimeout = 10 * time.Second
	// Parallel is how many names are looked up at once.
	Parallel = 16
)

// Resolver looks a name up with the smallest TTL of its records
// (resolve.DNS.LookupHostTTL).
type Resolver interface {
	LookupHostTTL(ctx context.Context, host string) ([]netip.Addr, time.Duration, error)
}

// Conns tells which remote addresses have live connections from this host
// (sockets connected or connecting to them): Live is asked once per step
// that has kept addresses.
type Conns interface {
	Live(ctx context.Context) (map[netip.Addr]bool, error)
}

// Updater makes the table in force what the policy compiles to with
// hostnames answered by answers (each name's addresses, kept ones
// included): EngineUpdater, over engine.Engine.RefreshHosts.
type Updater interface {
	RefreshHosts(ctx context.Context, answers map[string][]netip.Addr) (*engine.HostsResult, error)
}

// Store is the part of the state directory the refresher reads and writes
// (*state.Store).
type Store interface {
	CurrentID() (int, error)
	Load(id int) (*state.Generation, error)
	Hosts() (*state.HostsRecord, error)
	SetHosts(*state.HostsRecord) error
}

// Config is what the refresher runs with.
type Config struct {
	Resolver Resolver
	Conns    Conns // nil: no connection keeps an address beyond Grace
	Updater  Updater
	Store    Store
	Clock    clock.Clock
	Log      *slog.Logger
	// Floor and Ceiling clamp the TTL; Grace is how long an address that
	// left the answer stays at least; MaxAddrs caps a name's addresses.
	// Zero means the default.
	Floor, Ceiling, Grace time.Duration
	MaxAddrs              int
	LookupTimeout         time.Duration
	// Observe, when set, is told the outcome and duration of every
	// lookup (metrics.Metrics.DNSRefreshed: no label names the host).
	Observe func(err error, took time.Duration)
}

// Refresher refreshes the hostnames of the generation in force. It is not
// safe for concurrent use: one goroutine calls Step (or Run).
type Refresher struct {
	cfg Config
	gen int // generation the targets are of (0: not loaded)
	// targets are the hostnames of the generation's policy.
	targets map[string]bool
	// sent are the answers the table was last made of; dirty says the
	// table may not be (start, a new generation, a failed update), so the
	// next step sends the answers whether they changed or not.
	sent  map[string][]netip.Addr
	dirty bool
	// resync: the table was loaded again (a kick).
	resync bool
	rec    *state.HostsRecord
}

// New returns a refresher; it loads nothing until the first Step.
func New(cfg Config) *Refresher {
	if cfg.Floor <= 0 {
		cfg.Floor = DefaultFloor
	}
	if cfg.Ceiling <= 0 {
		cfg.Ceiling = DefaultCeiling
	}
	cfg.Ceiling = max(cfg.Ceiling, cfg.Floor)
	if cfg.Grace <= 0 {
		cfg.Grace = DefaultGrace
	}
	if cfg.MaxAddrs <= 0 {
		cfg.MaxAddrs = DefaultMaxAddrs
	}
	if cfg.LookupTimeout <= 0 {
		cfg.LookupTimeout = DefaultLookupTimeout
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Refresher{cfg: cfg}
}

// Run steps until ctx ends: at the next due time, or at once when kick
// receives (the daemon applied a new generation).
func (r *Refresher) Run(ctx context.Context, kick <-chan struct{}) {
	for {
		next := r.Step(ctx)
		select {
		case <-ctx.Done():
			return
		case <-kick:
			r.resync = true
		case <-r.cfg.Clock.After(next.Sub(r.cfg.Clock.Now())):
		}
	}
}

// Step does what is due now: follow a new generation, look up the names
// whose refresh is due, drop kept addresses that expired, send the changed
// elements, record. It returns when the next step is due.
func (r *Refresher) Step(ctx context.Context) time.Time {
	now := r.cfg.Clock.Now()
	if err := r.follow(now); err != nil {
		r.cfg.Log.Error("hostnames: cannot read the generation in force; retrying", "err", err)
		return now.Add(r.cfg.Floor)
	}
	if len(r.targets) == 0 {
		return now.Add(r.cfg.Ceiling)
	}
	changed := r.lookups(ctx, now)
	changed = r.expire(ctx, now) || changed
	changed = r.update(ctx, now) || changed
	if changed {
		r.save(now)
	}
	return r.next(now)
}

// follow loads the hostnames of the generation in force when it changed:
// the targets (the names its policy resolved, Generation.Hosts) and each
// name's state (the record's, else the addresses resolved at apply, due
// now).
func (r *Refresher) follow(now time.Time) error {
	id, err := r.cfg.Store.CurrentID()
	if err != nil {
		return err
	}
	if id == r.gen && r.targets != nil && !r.resync {
		return nil
	}
	if id == r.gen && r.targets != nil {
		// Same generation, table loaded again: send the answers again
		// (the engine changes nothing if the table is theirs already).
		r.resync, r.dirty = false, true
		return nil
	}
	gen, err := r.cfg.Store.Load(id)
	if err != nil {
		return err
	}
	r.resync = false
	if r.rec == nil {
		if r.rec, err = r.cfg.Store.Hosts(); err != nil {
			r.cfg.Log.Warn("hostnames: the record is unusable; starting from the compiled addresses", "err", err)
		}
		if r.rec == nil {
			r.rec = &state.HostsRecord{}
		}
	}
	r.gen, r.dirty, r.sent = id, true, nil
	r.targets = map[string]bool{}
	compiled := map[string][]netip.Addr{}
	if gen.Ruleset != nil && len(gen.Policy) > 0 {
		for name, addrs := range gen.Hosts {
			r.targets[name] = true
			for _, a := range addrs {
				if ip, err := netip.ParseAddr(a); err == nil {
					compiled[name] = append(compiled[name], ip.Unmap().WithZone(""))
				}
			}
		}
	}
	byName := map[string]state.HostState{}
	for _, h := range r.rec.Hosts {
		byName[h.Name] = h
	}
	r.rec.Hosts = r.rec.Hosts[:0]
	for _, name := range slices.Sorted(maps.Keys(r.targets)) {
		h, ok := byName[name]
		if !ok || len(h.Addrs) == 0 {
			h = state.HostState{Name: name}
		}
		if fresh := minus(sortedAddrs(compiled[name]), keptOf(h)); !isSubset(fresh, h.Addrs) {
			// Resolved at this generation's apply (beside the kept
			// addresses, hostrefresh.WithRecord): as good an answer as the
			// record's, and newer; the next lookup sorts them out.
			h.Addrs, h.Next = r.capped(h.Addrs, sortedAddrs(append(fresh, h.Addrs...))), now
		}
		r.rec.Hosts = append(r.rec.Hosts, h)
	}
	r.rec.Generation = id
	return nil
}

// lookups refreshes the names that are due, Parallel at a time (a DNS
// outage costs one LookupTimeout per round, not per name); it reports
// whether the record changed.
func (r *Refresher) lookups(ctx context.Context, now time.Time) bool {
	type answer struct {
		addrs []netip.Addr
		ttl   time.Duration
		err   error
	}
	var due []int
	for i, h := range r.rec.Hosts {
		if !h.Next.After(now) {
			due = append(due, i)
		}
	}
	answers := make([]answer, len(due))
	sem := make(chan struct{}, Parallel)
	var wg sync.WaitGroup
	for k, i := range due {
		name := r.rec.Hosts[i].Name
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			lctx, cancel := context.WithTimeout(ctx, r.cfg.LookupTimeout)
			defer cancel()
			a := &answers[k]
			began := r.cfg.Clock.Mono()
			a.addrs, a.ttl, a.err = r.cfg.Resolver.LookupHostTTL(lctx, name)
			if r.cfg.Observe != nil {
				r.cfg.Observe(a.err, r.cfg.Clock.Mono()-began)
			}
		})
	}
	wg.Wait()
	for k, i := range due {
		h := &r.rec.Hosts[i]
		addrs, ttl, err := answers[k].addrs, answers[k].ttl, answers[k].err
		addrs = r.usable(addrs)
		if err == nil && len(addrs) == 0 {
			err = errors.New("no addresses")
		}
		if err != nil {
			h.Error, h.ErrorAt, h.Next = err.Error(), now, now.Add(r.cfg.Floor)
			r.cfg.Log.Warn("hostname refresh failed; its addresses stay", "host", h.Name, "err", err)
			continue
		}
		r.answered(h, r.capped(h.Addrs, addrs), ttl, now)
	}
	return len(due) > 0
}

// usable is addrs as the policy holds them: IPv4-mapped addresses as
// IPv4, no zone, sorted.
func (r *Refresher) usable(addrs []netip.Addr) []netip.Addr {
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, a.Unmap().WithZone(""))
	}
	return sortedAddrs(out)
}

// capped is at most MaxAddrs of addrs: the ones in old first.
func (r *Refresher) capped(old, addrs []netip.Addr) []netip.Addr {
	if len(addrs) <= r.cfg.MaxAddrs {
		return addrs
	}
	var keep, fresh []netip.Addr
	for _, a := range addrs {
		if slices.Contains(old, a) {
			keep = append(keep, a)
		} else {
			fresh = append(fresh, a)
		}
	}
	return sortedAddrs(append(keep, fresh...)[:r.cfg.MaxAddrs])
}

// answered records a good answer: addresses that left it are kept from
// now, addresses that came back are no longer kept.
func (r *Refresher) answered(h *state.HostState, addrs []netip.Addr, ttl time.Duration, now time.Time) {
	kept := h.Kept[:0:0]
	for _, k := range h.Kept {
		if !slices.Contains(addrs, k.Addr) {
			kept = append(kept, k)
		}
	}
	for _, a := range h.Addrs {
		if !slices.Contains(addrs, a) && !slices.ContainsFunc(kept, func(k state.KeptAddr) bool { return k.Addr == a }) {
			kept = append(kept, state.KeptAddr{Addr: a, Gone: now})
		}
	}
	if !slices.Equal(h.Addrs, addrs) {
		r.cfg.Log.Info("hostname changed", "host", h.Name, "addrs", addrs, "was", h.Addrs)
	}
	h.Addrs, h.Kept, h.TTL, h.Refreshed, h.Error, h.ErrorAt = addrs, kept, ttl, now, "", time.Time{}
	h.Next = now.Add(r.interval(ttl))
}

// interval is the refresh interval of an answer with TTL ttl.
func (r *Refresher) interval(ttl time.Duration) time.Duration {
	if ttl <= 0 {
		return r.cfg.Ceiling
	}
	return min(max(ttl, r.cfg.Floor), r.cfg.Ceiling)
}

// expire drops kept addresses past their grace with no live connection.
func (r *Refresher) expire(ctx context.Context, now time.Time) bool {
	var due bool
	for _, h := range r.rec.Hosts {
		for _, k := range h.Kept {
			due = due || now.Sub(k.Gone) >= r.cfg.Grace
		}
	}
	if !due {
		return false
	}
	live := map[netip.Addr]bool{}
	if r.cfg.Conns != nil {
		var err error
		if live, err = r.cfg.Conns.Live(ctx); err != nil {
			// Unknown connections: keep every address one more round.
			r.cfg.Log.Warn("hostnames: cannot list connections; kept addresses stay", "err", err)
			return false
		}
	}
	changed := false
	for i := range r.rec.Hosts {
		h := &r.rec.Hosts[i]
		kept := h.Kept[:0:0]
		for _, k := range h.Kept {
			if now.Sub(k.Gone) < r.cfg.Grace || live[k.Addr] {
				kept = append(kept, k)
				continue
			}
			changed = true
			r.cfg.Log.Info("hostname: a departed address leaves the table", "host", h.Name, "addr", k.Addr)
		}
		h.Kept = kept
	}
	return changed
}

// update sends the answers when they changed since they were last sent
// (every time when dirty); it reports whether the record changed.
func (r *Refresher) update(ctx context.Context, now time.Time) bool {
	want := r.desired()
	if !r.dirty && maps.EqualFunc(want, r.sent, slices.Equal) {
		return false
	}
	res, err := r.cfg.Updater.RefreshHosts(ctx, want)
	if err != nil {
		r.dirty = true
		r.rec.Error, r.rec.ErrorAt = err.Error(), now
		r.cfg.Log.Error("hostnames: updating the table failed; retrying", "err", err)
		return true
	}
	r.sent, r.dirty = want, false
	switch {
	case res.Replaced:
		// The new addresses changed the layout: a new generation, made of
		// these answers (follow has nothing to send for it).
		r.cfg.Log.Info("hostnames: the new addresses change the table's layout; replaced it", "generation", res.Generation)
		r.gen, r.rec.Generation = res.Generation, res.Generation
	case res.Ops > 0:
		r.cfg.Log.Info("hostnames: table updated", "elements", res.Ops, "generation", res.Generation)
	}
	r.rec.Error, r.rec.ErrorAt = "", time.Time{}
	return true
}

// desired is every name's addresses as the record says: its answer and
// its kept addresses.
func (r *Refresher) desired() map[string][]netip.Addr {
	out := map[string][]netip.Addr{}
	for _, h := range r.rec.Hosts {
		out[h.Name] = sortedAddrs(append(slices.Clone(h.Addrs), keptOf(h)...))
	}
	return out
}

// keptOf is h's kept addresses.
func keptOf(h state.HostState) []netip.Addr {
	var out []netip.Addr
	for _, k := range h.Kept {
		out = append(out, k.Addr)
	}
	return out
}

// next is when the next step is due: the earliest refresh or grace end,
// Floor from now when an update must be retried or a kept address waits
// for its connections to end.
func (r *Refresher) next(now time.Time) time.Time {
	next := now.Add(r.cfg.Ceiling)
	if r.dirty {
		next = now.Add(r.cfg.Floor)
	}
	for _, h := range r.rec.Hosts {
		if h.Next.Before(next) {
			next = h.Next
		}
		for _, k := range h.Kept {
			end := k.Gone.Add(r.cfg.Grace)
			if !end.After(now) {
				end = now.Add(r.cfg.Floor) // past grace, a connection keeps it
			}
			if end.Before(next) {
				next = end
			}
		}
	}
	return next
}

// save writes the record; a failure is logged (the next step writes it).
func (r *Refresher) save(now time.Time) {
	r.rec.Time = now.UTC()
	if err := r.cfg.Store.SetHosts(r.rec); err != nil {
		r.cfg.Log.Error("hostnames: cannot write the record; the next step writes it", "err", err)
	}
}

// Record is a copy of the current record (for tests and the daemon's logs).
func (r *Refresher) Record() state.HostsRecord {
	if r.rec == nil {
		return state.HostsRecord{}
	}
	c := *r.rec
	c.Hosts = slices.Clone(r.rec.Hosts)
	return c
}

// minus is a without the addresses in b.
func minus(a, b []netip.Addr) []netip.Addr {
	return slices.DeleteFunc(a, func(x netip.Addr) bool { return slices.Contains(b, x) })
}

func isSubset(a, b []netip.Addr) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

func sortedAddrs(addrs []netip.Addr) []netip.Addr {
	out := slices.Clone(addrs)
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}
