package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/state"
)

// enforce puts rs into the kernel (nil: no table), carrying the live
// elements into it (withLive) in the same transaction, and records the
// live snapshot when rs has live sets. Every full replace of the table
// (apply, rollback, revert, reapply, restore, repair) goes through it.
// It is never interrupted: reverts, repairs and restore must finish (see
// enforceContext for apply and reapply).
func (e *Engine) enforce(k Kernel, rs *ruleset.Ruleset) error {
	return e.enforceWith(k, rs, k.Apply)
}

// enforceContext is enforce that stops, with nothing changed, if ctx ends
// while the table is encoded (applyContext).
func (e *Engine) enforceContext(ctx context.Context, k Kernel, rs *ruleset.Ruleset) error {
	return e.enforceWith(k, rs, func(rs *ruleset.Ruleset) error { return applyContext(ctx, k, rs) })
}

func (e *Engine) enforceWith(k Kernel, rs *ruleset.Ruleset, apply func(*ruleset.Ruleset) error) error {
	if rs == nil {
		return k.Reset()
	}
	full := e.withLive(k, rs)
	if err := apply(full); err != nil {
		return err
	}
	if hasLive(full) {
		e.saveLive(snapshotOf(full, e.Clock.Now()))
	}
	return nil
}

// withLive returns rs with the live elements carried into it: for every
// live set of rs, the elements of the live set with the same name, kind and
// source (ruleset.SameLive) that the kernel holds now, or, when the kernel
// has no table or its live sets cannot be read (boot, after a reset), that
// the live snapshot recorded. Only the live sets are read (Kernel.ReadLive):
// foreign content elsewhere in the table does not stop the carry. Carried
// elements keep their counters (if the set still counts) and their
// remaining lifetime as their timeout; one whose lifetime ran out while the
// kernel had no table is re-added with the set's default timeout, so a
// reboot or a DNS outage never empties an allow-set (the last good
// elements hold for one more timeout, until the daemon refreshes them).
// rs's own elements of a live set (compiled just now) are kept, with the
// kernel's counters when carried too. Elements beyond a set's size are not
// carried, nor the elements of a live verdict map that jump to a chain rs
// no longer has (the kernel would refuse the whole table). rs itself is not changed; without live sets it is returned as
// it is.
func (e *Engine) withLive(k Kernel, rs *ruleset.Ruleset) *ruleset.Ruleset {
	if !hasLive(rs) {
		return rs
	}
	from, elapsed := e.liveSource(k)
	ix := ruleset.NewIndex(rs)
	out := *rs
	out.Sets = make([]*ruleset.Set, len(rs.Sets))
	for i, s := range rs.Sets {
		out.Sets[i] = s
		if old := from.Set(s.Name); s.Live != nil && ruleset.SameLive(s, old) {
			out.Sets[i] = carry(s, old, elapsed, ix)
		}
	}
	return &out
}

// liveSource is where withLive carries live elements from: the kernel's
// table if it reads, else the live snapshot, and how long ago it was taken.
func (e *Engine) liveSource(k Kernel) (interface{ Set(string) *ruleset.Set }, time.Duration) {
	if seen, err := k.ReadLive(); err == nil && seen != nil {
		return seen, 0
	}
	snap, err := e.Store.Live()
	if err != nil {
		e.warn("the live snapshot is unusable, live sets start from their compiled elements: %v", err)
		return &ruleset.Ruleset{}, 0
	}
	if snap == nil {
		return &ruleset.Ruleset{}, 0
	}
	return snap, max(e.Clock.Now().Sub(snap.Time), 0)
}

// carry is live set s with old's elements added (see withLive); elapsed
// is how long ago old's lifetimes were read.
func carry(s, old *ruleset.Set, elapsed time.Duration, rs ruleset.Lookup) *ruleset.Set {
	c := *s
	own := s.Elements()
	seen := map[ruleset.Element]int{}
	for i, el := range own {
		seen[keyOf(el)] = i
	}
	for _, el := range old.Elements() {
		if !s.Live.Counters {
			el.Packets, el.Bytes = 0, 0
		}
		if i, ok := seen[keyOf(el)]; ok {
			own[i].Packets, own[i].Bytes = el.Packets, el.Bytes
			continue
		}
		if s.Live.Size > 0 && uint32(len(own)) >= s.Live.Size {
			continue
		}
		if el.Chain != "" && rs.Chain(el.Chain) == nil {
			continue
		}
		el.Timeout = remaining(s.Live, el, elapsed)
		el.Expires = 0
		own = append(own, el)
	}
	c.SetElements(own)
	return &c
}

// keyOf is an element's key alone.
func keyOf(e ruleset.Element) ruleset.Element { return ruleset.Element{Addr: e.Addr, Cgroup: e.Cgroup} }

// remaining is the timeout a carried element is re-added with: what was
// left of its lifetime (rounded up to the kernel's milliseconds), or the
// set's default (0) when it had none or it ran out.
func remaining(l *ruleset.Live, e ruleset.Element, elapsed time.Duration) time.Duration {
	left := e.Expires - elapsed
	if l.Timeout == 0 || e.Expires == 0 || left <= 0 {
		return 0
	}
	return (left + time.Millisecond - 1).Truncate(time.Millisecond)
}

func hasLive(rs *ruleset.Ruleset) bool {
	for _, s := range rs.Sets {
		if s.Live != nil {
			return true
		}
	}
	return false
}

// snapshotOf is the live snapshot of rs's live sets as read or loaded at
// now. An element whose lifetime is unknown (just loaded) counts from its
// timeout.
func snapshotOf(rs *ruleset.Ruleset, now time.Time) *state.LiveSnapshot {
	snap := &state.LiveSnapshot{Time: now.UTC()}
	for _, s := range rs.Sets {
		if s.Live == nil {
			continue
		}
		c := *s
		elems := s.Elements()
		for i := range elems {
			if elems[i].Expires == 0 && s.Live.Timeout > 0 {
				elems[i].Expires = s.Live.Timeout
				if elems[i].Timeout > 0 {
					elems[i].Expires = elems[i].Timeout
				}
			}
		}
		c.SetElements(elems)
		snap.Sets = append(snap.Sets, &c)
	}
	return snap
}

// saveLive records the live snapshot; a failure warns only, since the
// kernel change it follows is made (the next update or apply writes it).
func (e *Engine) saveLive(snap *state.LiveSnapshot) {
	if err := e.Store.SetLive(snap); err != nil {
		e.warn("record the live snapshot: %v (the next live update records it)", err)
	}
}

// LiveResult is what UpdateLive did.
type LiveResult struct {
	// Ops is the number of element changes made.
	Ops int `json:"ops"`
	// Sets are the live sets after the update, elements with their
	// remaining lifetime and counters, as recorded in the live snapshot.
	Sets []*ruleset.Set `json:"sets,omitempty"`
}

// UpdateLive changes elements of live sets (ruleset.Live) while leash runs:
// a hostname's addresses refreshed by TTL, a service's new cgroup. Under
// the state directory's lock (after recovery, like every locked
// operation), the kernel first, in one transaction (Kernel.UpdateElements:
// all of ops take effect or none, and an op on a set that is not live
// refuses them all), then the live snapshot, which restore re-adds at boot.
// It makes no generation: the history does not move. Idempotent: adding a
// present element refreshes its timeout, deleting an absent one is no
// error, so a caller whose snapshot write failed may simply retry. On a
// kernel error nothing changed; on a snapshot error the kernel holds the
// update and the error says so.
func (e *Engine) UpdateLive(ctx context.Context, ops []ruleset.ElementOp) (*LiveResult, error) {
	var res *LiveResult
	err := e.locked(ctx, false, func(k Kernel) error {
		if err := interrupted(ctx); err != nil {
			return err
		}
		if err := k.UpdateElements(ops); err != nil {
			return fmt.Errorf("update live sets: the kernel refused, nothing changed: %w", err)
		}
		res = &LiveResult{Ops: len(ops)}
		seen, err := k.ReadLive()
		if err != nil || seen == nil {
			return fmt.Errorf("the kernel holds the live update, but reading it back for the live snapshot failed (retry the update): %v", err)
		}
		snap := snapshotOf(seen, e.Clock.Now())
		res.Sets = snap.Sets
		if err := e.Store.SetLive(snap); err != nil {
			return fmt.Errorf("the kernel holds the live update, but recording the live snapshot failed (retry the update): %w", err)
		}
		return nil
	})
	return res, err
}
