package policy

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"time"

	"github.com/leash-dev/leash/internal/clock"

	"github.com/leash-dev/leash/internal/cgroups"
	"github.com/leash-dev/leash/internal/identity"
	"github.com/leash-dev/leash/internal/resolve"
	"github.com/leash-dev/leash/internal/services"
)

// Env is everything Resolve looks names up in. Nil fields are empty: no
// users or groups, no services, and no hostname resolves.
type Env struct {
	Directory *identity.Directory // users and groups
	Services  *services.DB        // service names of `ports`
	Resolver  resolve.Resolver    // hostnames of `to` and destination lists
	Cgroups   cgroups.Tree        // the ids of the cgroups `units` and `cgroups` govern
	// Clock is the time windows are compiled from (Resolved.At); nil is
	// the real clock. Zone is the zone of windows without `zone`; nil is
	// the host's (time.Local).
	Clock clock.Clock
	Zone  *time.Location
}

// Load parses and resolves a policy file. It reports the shape errors of
// Parse and the semantic errors of Resolve together, as one ErrorList, as
// long as the YAML could be read at all.
//
// Load stops when ctx is done, with an error wrapping ctx.Err() (not an
// ErrorList): parsing is waited for in a way Ctrl-C interrupts, and Resolve
// looks at ctx between policies and rules.
func Load(ctx context.Context, file string, src []byte, env Env) (*Resolved, error) {
	f, perr := parseContext(ctx, file, src)
	if len(src) >= collectAfterParse {
		// The syntax tree of a large file is garbage now, and resolving,
		// compiling, the record and the netlink batch allocate as much
		// again: collecting it here lets them reuse its memory instead of
		// faulting in fresh pages (200 policies of 1,000 rules: peak RSS
		// 1.3-1.5 GB -> 0.77 GB, apply about 8% faster, bench/README.md).
		runtime.GC()
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("policy: load %s: %w", file, err)
	}
	if f == nil {
		return nil, perr
	}
	r, rerr := Resolve(ctx, f, env)
	var all ErrorList
	for _, err := range []error{perr, rerr} {
		switch l, ok := err.(ErrorList); {
		case ok:
			all = append(all, l...)
		case err != nil:
			return nil, err
		}
	}
	if len(all) > 0 {
		return nil, all.err()
	}
	return r, nil
}

// collectAfterParse is the size of a policy file from which Load collects
// garbage once it is parsed.
const collectAfterParse = 1 << 20

// Resolve gives a parsed file its meaning: users and groups become ids,
// destinations become merged prefixes (hostnames are resolved with
// env.Resolver, concurrently), ports and services become protocol specs,
// and conflicts between policies are detected. All errors are collected
// and returned as one ErrorList; the Resolved is nil when there are any.
// Parts that Parse already rejected (nil in f) are skipped silently.
func Resolve(ctx context.Context, f *File, env Env) (*Resolved, error) {
	rv := newResolver(ctx, f, env)
	out := &Resolved{File: f.Name, Baseline: rv.baseline(f.Baseline), Warnings: env.Services.Warnings()}
	rv.expandLists()
	claims := newClaims()
	for _, pd := range f.Policies {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("policy: resolve %s: %w", f.Name, err)
		}
		pol, users, groups := rv.policy(pd, out.Baseline)
		claims.check(&rv.errorSink, pd, pol, users, groups)
		out.Policies = append(out.Policies, pol)
	}
	if err := ctx.Err(); err != nil { // also stops rule loops (rv.policy)
		return nil, fmt.Errorf("policy: resolve %s: %w", f.Name, err)
	}
	claims.finish(&rv.errorSink)
	rv.cgroupClaims(out.Policies)
	if len(rv.hostAddrs) > 0 {
		out.Hosts = rv.hostAddrs
	}
	if sl, ok := env.Resolver.(resolve.ServerLister); ok {
		out.DNSServers, _ = sl.ServerAddrs() // an unreadable resolv.conf failed the lookups already
	}
	if err := rv.errs.err(); err != nil {
		return nil, err
	}
	scanCgroups(out, env.Cgroups)
	out.Lint = lint(f, out, rv.warns)
	if usesWhen(out) {
		out.At = rv.now()
	}
	return out, nil
}

// resolver holds the state of one Resolve call.
type resolver struct {
	errorSink
	ctx  context.Context
	file *File
	env  Env
	// lists are the destination lists by name, expanded by expandLists.
	lists map[string]*destList
	// hosts are the lookups of every hostname in the file, by canonical name.
	hosts map[string]hostLookup
	// hostAddrs are the successful lookups, for Resolved.Hosts.
	hostAddrs map[string][]netip.Addr
	// names are the directory's names for "did you mean" (namesuggest.go).
	names nameSuggester
	// fwd are the forwarded-traffic subjects claimed so far (hosts.go).
	fwd forwardClaims
}

// newResolver prepares a resolver, resolving all hostnames up front.
func newResolver(ctx context.Context, f *File, env Env) *resolver {
	rv := listResolver(f)
	rv.ctx, rv.env = ctx, env
	rv.lookupHosts()
	return rv
}

// listResolver knows f's destination lists, enough to classify entries.
func listResolver(f *File) *resolver {
	rv := &resolver{file: f, lists: map[string]*destList{}}
	for _, l := range f.Destinations {
		rv.lists[l.Name] = &destList{decl: l}
	}
	return rv
}

// filePos is the position of implicit settings: the file, no line, so
// explanations say "default" instead of pointing at a line.
func (rv *resolver) filePos() Pos { return Pos{File: rv.file.Name} }

// baseline resolves the baseline with its defaults.
func (rv *resolver) baseline(bd *BaselineDecl) Baseline {
	b := Baseline{
		Loopback:         Loopback{Mode: LoopbackAll, Pos: rv.filePos()},
		Established:      true,
		Unowned:          UnownedEveryone,
		MulticastReports: MulticastLimit,
		Log:              rv.logSettings(nil),
		Pos:              rv.filePos(),
		OrphanMark:       DefaultOrphanMark,
		MPTCPJoins:       MPTCPDeny,
	}
	if bd == nil {
		return b
	}
	if bd.Log != nil {
		b.Log = rv.logSettings(bd.Log)
	}
	b.Pos = bd.Pos
	b.Loopback.Pos = bd.Pos
	if bd.Loopback != nil {
		b.Loopback = rv.loopback(bd.Loopback)
	}
	if bd.Established != nil {
		b.Established = bd.Established.Value == "allow"
		b.EstablishedPos = bd.Established.Pos
	}
	if bd.Unowned != nil {
		b.Unowned = UnownedMode(bd.Unowned.Value)
	}
	if bd.MulticastReports != nil {
		b.MulticastReports = MulticastMode(bd.MulticastReports.Value)
	}
	if bd.OrphanMark != nil {
		b.OrphanMark, b.OrphanMarkPos = orphanMarkOf(bd.OrphanMark), bd.OrphanMark.Pos
	}
	if bd.MPTCPJoins != nil {
		b.MPTCPJoins, b.MPTCPJoinsPos = MPTCPMode(bd.MPTCPJoins.Value), bd.MPTCPJoins.Pos
	}
	return b
}

// loopback resolves a loopback setting.
func (rv *resolver) loopback(ld *LoopbackDecl) Loopback {
	l := Loopback{Pos: ld.Pos}
	if ld.Word == nil {
		protos, any := rv.ports(ld.Ports)
		if any {
			l.Mode = LoopbackAll
			return l
		}
		l.Mode, l.Protos = LoopbackPorts, protos
		return l
	}
	switch ld.Word.Value {
	case "allow", "all":
		l.Mode = LoopbackAll
	case "deny", "none":
		l.Mode = LoopbackNone
	case "rules":
		l.Mode = LoopbackRules
	}
	return l
}

// policy resolves one policy. Conflicts with other policies are checked by
// the caller, with the claims of its users and groups entries.
func (rv *resolver) policy(pd *PolicyDecl, base Baseline) (pol *ResolvedPolicy, users, groups []claim) {
	pol = &ResolvedPolicy{Pos: pd.Pos, Loopback: base.Loopback, Established: base.Established, EstablishedPos: base.EstablishedPos, DefaultPos: pd.Pos,
		Log: true, LogPos: rv.filePos()}
	if pd.Name != nil {
		pol.Name = pd.Name.Value
	}
	users, groups = rv.subjects(pd, pol)
	rv.forwardSubjects(pd, pol)
	rv.cgroupSubjects(pd, pol)
	pol.Rules = rv.rules(pd.Rules)
	if pd.Default != nil {
		pol.Default, pol.DefaultPos = Action(pd.Default.Value), pd.Default.Pos
	}
	if pd.Loopback != nil {
		pol.Loopback = rv.loopback(pd.Loopback)
	}
	if pd.Established != nil {
		pol.Established = pd.Established.Value == "allow"
		pol.EstablishedPos = pd.Established.Pos
	}
	if pd.Log != nil {
		pol.Log, pol.LogPos = pd.Log.Value == "true", pd.Log.Pos
	}
	pol.When = rv.when(pd.When)
	return pol, users, groups
}

// minParallelRules is the number of rules of one policy from which they
// are resolved in parallel runs (rules).
const minParallelRules = 256

// rules resolves a policy's rules, in order, stopping early when the
// context ends (Resolve reports it). From minParallelRules on, in runs of
// consecutive rules, one per CPU, each with a resolver of its own whose
// errors, warnings and hostname results are then added to rv's in order:
// the same rules and messages as one run. What else a rule reads (the
// expanded lists and their destinations, the hostname lookups, the
// services, env) is not written any more once the lists are expanded.
func (rv *resolver) rules(rds []*RuleDecl) []*ResolvedRule {
	out := make([]*ResolvedRule, len(rds))
	runs := runsFor(len(rds), minParallelRules)
	parts := []*resolver{rv}
	if runs > 1 {
		parts = make([]*resolver, runs)
		for w := range parts {
			q := *rv
			q.errorSink, q.hostAddrs = errorSink{}, nil
			parts[w] = &q
		}
	}
	inRuns(runs, len(rds), func(w, lo, hi int) {
		for i := lo; i < hi; i++ {
			if i%256 == 255 && parts[w].ctx.Err() != nil {
				return
			}
			out[i] = parts[w].rule(rds[i], i+1)
		}
	})
	if runs > 1 {
		for _, q := range parts {
			rv.errs = append(rv.errs, q.errs...)
			rv.warns = append(rv.warns, q.warns...)
			for k, v := range q.hostAddrs {
				if rv.hostAddrs == nil {
					rv.hostAddrs = map[string][]netip.Addr{}
				}
				rv.hostAddrs[k] = v
			}
		}
	}
	return compact(out)
}

// compact drops the rules not resolved because the context ended.
func compact(rules []*ResolvedRule) []*ResolvedRule {
	return slices.DeleteFunc(rules, func(r *ResolvedRule) bool { return r == nil })
}

// rule resolves one rule; index is 1-based.
func (rv *resolver) rule(rd *RuleDecl, index int) *ResolvedRule {
	r := &ResolvedRule{Index: index, Pos: rd.Pos, Action: rd.Action, Text: rd.Text(), Log: rv.ruleLog(rd)}
	r.To = rv.destinations(rd.To)
	r.Via = rv.via(rd)
	r.When = rv.when(rd.When)
	r.Limit = rv.limit(rd)
	if protos, any := rv.ports(rd.Ports); !any {
		r.Protos = protos
	}
	return r
}

// parseContext is Parse that stops waiting when ctx is done. The YAML
// library cannot be interrupted, and a file of many megabytes takes
// seconds, which would hold up Ctrl-C; the abandoned parse runs to its end
// in the background and is discarded.
func parseContext(ctx context.Context, file string, src []byte) (*File, error) {
	if ctx.Done() == nil {
		return Parse(file, src)
	}
	type result struct {
		f   *File
		err error
	}
	done := make(chan result, 1)
	go func() {
		f, err := Parse(file, src)
		done <- result{f, err}
	}()
	select {
	case r := <-done:
		return r.f, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
