package engine

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/leash-dev/leash/internal/drift"
	"github.com/leash-dev/leash/internal/firewalls"
	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/state"
)

// Status is the kernel's table judged against the generation in force.
type Status struct {
	drift.Report
	// Generation is the generation in force (nil: none was applied). One
	// without a ruleset (a reset) says there should be no table.
	Generation *state.Generation
	// Interrupted is a change not recorded as done; Generation is then
	// what the next leash that takes the lock will record as current.
	Interrupted *Interrupted
	TableExists bool
	// Pending is the confirmation awaited, if any (see PendingState).
	Pending *PendingReport
	// Others are the other firewalls on the hooks leash uses (nil when
	// they could not be read: OthersErr says why).
	Others    *firewalls.Others
	OthersErr error
	// Counters are the kernel's, per chain and rule, with the
	// generation's policy lines (Annotate).
	Counters []drift.ChainCounters
	// Hosts is the hostname refresher's record (leash daemon), nil when
	// none was written; HostsErr says why it could not be read.
	Hosts    *state.HostsRecord
	HostsErr error
	// Daemon is the leash daemon that answered, in daemon mode (nil:
	// direct mode, no daemon runs).
	Daemon *Daemon
	// Windows is when the generation's time windows need renewing (nil:
	// it has none).
	Windows *WindowsStatus
}

// Status reads the kernel's table and compares it with the generation in
// force (View), counters left out, and sums the counters. It never writes
// or waits for the lock.
func (e *Engine) Status() (*Status, error) {
	gen, intr, err := e.View()
	switch {
	case errors.Is(err, state.ErrNone):
		gen = nil
	case err != nil:
		return nil, fmt.Errorf("read the applied generation: %w (check --state-dir %s)", err, e.Store.Dir)
	}
	k, err := e.kernel()
	if err != nil {
		return nil, err
	}
	defer k.Close()
	seen, err := Observe(k)
	if err != nil {
		return nil, err
	}
	st := &Status{Generation: gen, Interrupted: intr, TableExists: seen.Exists, Pending: e.Pending()}
	st.Hosts, st.HostsErr = e.Store.Hosts()
	var applied *ruleset.Ruleset
	name := "no generation"
	if gen != nil {
		applied = gen.Ruleset
		name = fmt.Sprintf("generation %d", gen.ID)
	}
	st.Report = drift.Compare(applied, seen, name)
	st.Windows = windowsStatus(gen, e.now())
	if o, err := k.Others(); err == nil {
		st.Others = &o
	} else {
		st.OthersErr = err
	}
	if seen.Table != nil {
		Annotate(seen.Table, gen)
		st.Counters = drift.Counters(seen.Table)
	}
	return st, nil
}

// Annotate copies policy origins (file, line, source text) from gen, the
// generation in force, onto the kernel's rules with the same comment id.
// Rules the generation does not know keep only their comment.
func Annotate(rs *ruleset.Ruleset, gen *state.Generation) {
	annotate(rs, origins(gen))
}

// origins are the rule origins of gen's table by rule id (nil without one).
func origins(gen *state.Generation) map[string]ruleset.Origin {
	if gen == nil || gen.Ruleset == nil {
		return nil
	}
	known := map[string]ruleset.Origin{}
	for _, c := range gen.Ruleset.Chains {
		for _, r := range c.Rules {
			known[r.Origin.ID] = r.Origin
		}
	}
	for _, m := range gen.Ruleset.Maps { // rules whose map entries carry their verdict
		for _, o := range m.Origins {
			known[o.ID] = o
		}
	}
	return known
}

// annotate gives rs's rules the origins known by id.
func annotate(rs *ruleset.Ruleset, known map[string]ruleset.Origin) {
	if len(known) == 0 {
		return
	}
	for _, c := range rs.Chains {
		for _, r := range c.Rules {
			if o, ok := known[r.Origin.ID]; ok {
				r.Origin = o
			}
		}
	}
	annotateMaps(rs, known)
}

// annotateMaps gives the kernel's counting maps the origins of the rules
// their entries carry (ruleset.Map.Origins), in the order of first
// appearance: the kernel holds only their ids, as element comments.
func annotateMaps(rs *ruleset.Ruleset, known map[string]ruleset.Origin) {
	for _, m := range rs.Maps {
		if !m.Counters {
			continue
		}
		m.Origins = nil
		seen := map[string]bool{}
		for _, e := range m.Entries {
			if e.Rule == "" || seen[e.Rule] {
				continue
			}
			seen[e.Rule] = true
			if o, ok := known[e.Rule]; ok {
				m.Origins = append(m.Origins, o)
			}
		}
		slices.SortStableFunc(m.Origins, func(a, b ruleset.Origin) int { return cmp.Compare(a.Rule, b.Rule) })
	}
}
