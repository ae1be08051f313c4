package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/state"
)

// HostsResult is what RefreshHosts did.
type HostsResult struct {
	// Nothing says why nothing was compared ("" otherwise).
	Nothing string `json:"-"`
	// Generation is the generation in force after the refresh.
	Generation int `json:"generation"`
	// Ops is how many elements the incremental update changed (0: the
	// recompiled table was the one loaded).
	Ops int `json:"ops"`
	// Replaced says the new addresses changed the layout (an address now
	// overlaps another rule's): the table was replaced as a new generation
	// ("reapply of N"), Diff says how.
	Replaced bool   `json:"replaced,omitempty"`
	Diff     string `json:"diff,omitempty"`
}

// RefreshHosts follows a change of hostnames' addresses. recompile compiles
// the current generation's stored policy again, hostnames answered as the
// refresher holds them now (pure but for the answers: it is run before the
// lock). The result is diffed against the table the kernel was loaded with
// (the generation with its refreshed elements, state.Refreshed): when only
// elements of sets and maps differ (ruleset.ElementsDiff), exactly those
// are changed in one kernel transaction (Kernel.UpdateSets) and recorded in
// refreshed.json, with no new generation; when the layout differs, the
// recompiled table replaces the old one like a reapply, as a new
// generation. Either way the kernel then holds what a fresh compile of the
// policy with these answers gives. Idempotent: the same answers again
// change nothing. On a kernel error nothing changed. One goroutine at a
// time calls it (the daemon's refresher).
func (e *Engine) RefreshHosts(ctx context.Context, recompile Recompile) (*HostsResult, error) {
	cur, err := e.hostsCurrent()
	if errors.Is(err, state.ErrNone) {
		return &HostsResult{Nothing: "no generation was ever applied"}, nil
	}
	if err != nil {
		return nil, err
	}
	e.hostsGen = nil // until this refresh is done
	if cur.Ruleset == nil || len(cur.Policy) == 0 {
		return &HostsResult{Nothing: fmt.Sprintf("%s has no policy", Describe(cur.Meta)), Generation: cur.ID}, nil
	}
	c, err := recompile(ctx, cur)
	if err != nil {
		return nil, err
	}
	lk, err := e.lock(ctx, false)
	if err != nil {
		return nil, err
	}
	defer lk.Unlock()
	// Under the lock, the generation must still be in force (an apply may
	// have come between). Its refreshed elements are only written here,
	// by the one refresher, so cur is still the table as loaded.
	if now, err := e.Store.CurrentID(); err != nil || now != cur.ID {
		return &HostsResult{Nothing: fmt.Sprintf("generation %d is no longer current", cur.ID)}, err
	}
	c, _ = orphanTags(tagOf(cur.Ruleset), c) // orphantag.go: elements only keep the tag
	u, ok := ruleset.ElementsDiff(cur.Ruleset, c.Ruleset)
	if !ok {
		res, err := e.reapply(ctx, cur, c) // a new generation: decoded again next time
		if err != nil {
			return nil, err
		}
		return &HostsResult{Nothing: res.Nothing, Generation: res.Generation, Replaced: res.Changed, Diff: res.Diff}, nil
	}
	res := &HostsResult{Generation: cur.ID, Ops: u.Ops()}
	if u.Empty() {
		e.hostsGen = cur
		return res, nil
	}
	if err := interrupted(ctx); err != nil {
		return nil, err
	}
	k, err := e.kernel()
	if err != nil {
		return nil, err
	}
	defer k.Close()
	if err := k.UpdateSets(u); err != nil {
		return nil, fmt.Errorf("refresh hostnames: the kernel refused the element update, nothing changed: %w", err)
	}
	rec := refreshedOf(e, cur.ID, c, u)
	if err := e.Store.SetRefreshed(rec); err != nil {
		return nil, fmt.Errorf("the kernel holds the refreshed addresses, but recording them failed (the next refresh retries): %w", err)
	}
	if rs, ok := ruleset.WithElements(cur.Ruleset, rec.Sets, rec.Maps); ok {
		next := *cur
		next.Ruleset, next.Hosts = rs, rec.Hosts
		e.hostsGen = &next
	}
	return res, nil
}

// hostsCurrent is the generation in force as Load gives it: the one the
// last RefreshHosts left when it is still current (its refreshed elements
// are only ever written by RefreshHosts, and a generation never changes),
// so the refresher does not decode a large generation on every refresh.
func (e *Engine) hostsCurrent() (*state.Generation, error) {
	if g := e.hostsGen; g != nil {
		if id, err := e.Store.CurrentID(); err == nil && id == g.ID {
			return g, nil
		}
	}
	return e.Store.Current()
}

// refreshedOf is the refreshed record after u: every set and map of
// generation id that a refresh has changed so far (the earlier record's
// and u's), as the recompiled table c has them.
func refreshedOf(e *Engine, id int, c *Compiled, u *ruleset.ElementsUpdate) *state.Refreshed {
	var sets, maps []string
	if old, err := e.Store.Refreshed(); err == nil && old != nil && old.Generation == id {
		for _, s := range old.Sets {
			sets = append(sets, s.Name)
		}
		for _, m := range old.Maps {
			maps = append(maps, m.Name)
		}
	}
	for _, s := range u.Sets {
		sets = append(sets, s.Name())
	}
	for _, m := range u.Maps {
		maps = append(maps, m.Name())
	}
	r := &state.Refreshed{Time: e.now().UTC(), Generation: id, Hosts: c.hosts()}
	for _, s := range c.Ruleset.Sets {
		if slices.Contains(sets, s.Name) {
			r.Sets = append(r.Sets, s)
		}
	}
	for _, m := range c.Ruleset.Maps {
		if slices.Contains(maps, m.Name) {
			r.Maps = append(r.Maps, m)
		}
	}
	return r
}
