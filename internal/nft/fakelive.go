package nft

import (
	"errors"
	"fmt"

	"github.com/leash-dev/leash/internal/ruleset"
)

// UpdateElements applies ops to the fake's live sets atomically, as
// Conn.UpdateElements does: every op is checked first and a refused
// transaction (RefuseNext, MaxMessages: one message per op) leaves every
// set as it was. Added elements expire after their timeout (or their
// set's) as the fake's Clock advances.
func (f *Fake) UpdateElements(ops []ruleset.ElementOp) error { return f.updateElements(nil, ops) }

func (f *Fake) updateElements(as *FakeOwner, ops []ruleset.ElementOp) error {
	if len(ops) == 0 {
		return nil
	}
	return f.transact("update", len(ops), func() error {
		if err := f.mayChange(as); err != nil {
			return err
		}
		f.age()
		next, err := f.tableToUpdate()
		if err == nil {
			err = applyOps(next, ops)
		}
		if err != nil {
			return fmt.Errorf("nft fake: update elements, nothing changed: %w", err)
		}
		f.table = next
		return nil
	})
}

// tableToUpdate is a copy of the fake's table for an element update to
// change and put in place, or why there is none to update (another tool's
// content, no table).
func (f *Fake) tableToUpdate() (*ruleset.Ruleset, error) {
	switch {
	case len(f.foreign) > 0:
		return nil, &ForeignError{Items: append([]string(nil), f.foreign...)}
	case f.table == nil:
		return nil, fmt.Errorf("table inet %s does not exist", ruleset.TableName)
	}
	return deepCopy(f.table)
}

// ReadLive returns the fake's live sets with their elements, as
// Conn.ReadLive does; (nil, nil) without a table.
func (f *Fake) ReadLive() (*ruleset.Ruleset, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.age()
	if f.table == nil {
		return nil, nil
	}
	out := &ruleset.Ruleset{}
	for _, s := range f.table.Sets {
		if s.Live != nil {
			out.Sets = append(out.Sets, s)
		}
	}
	return deepCopy(out)
}

// applyOps makes ops on rs's live sets, or fails naming every bad op.
func applyOps(rs *ruleset.Ruleset, ops []ruleset.ElementOp) error {
	var bad []error
	for _, op := range ops {
		if err := ruleset.ValidateOp(rs, op); err != nil {
			bad = append(bad, err)
			continue
		}
		s := rs.Set(op.Set)
		elems := s.Elements()
		kept := elems[:0]
		var old *ruleset.Element
		for i := range elems {
			if elems[i].Addr == op.Elem.Addr && elems[i].Cgroup == op.Elem.Cgroup {
				e := elems[i]
				old = &e
				continue
			}
			kept = append(kept, elems[i])
		}
		if err := fakeJump(rs, op, old); err != nil {
			bad = append(bad, err)
			continue
		}
		if !op.Delete {
			e := loaded(s, op.Elem)
			if old != nil { // a refresh keeps the counter
				e.Packets, e.Bytes = old.Packets, old.Bytes
			}
			kept = append(kept, e)
		}
		if s.Live.Size > 0 && uint32(len(kept)) > s.Live.Size {
			bad = append(bad, fmt.Errorf("%s: set %s is full (size %d): no space left on device", op, s.Name, s.Live.Size))
			continue
		}
		s.SetElements(kept)
	}
	return errors.Join(bad...)
}

// fakeJump refuses, as the kernel does, an added element of a verdict
// map that jumps to a missing chain, or that is present with another
// verdict (the kernel changes no element's data: delete it first, in the
// same update).
func fakeJump(rs *ruleset.Ruleset, op ruleset.ElementOp, old *ruleset.Element) error {
	switch {
	case op.Delete || op.Elem.Chain == "":
		return nil
	case rs.Chain(op.Elem.Chain) == nil:
		return fmt.Errorf("%s: chain %s: no such file or directory", op, op.Elem.Chain)
	case old != nil && old.Chain != op.Elem.Chain:
		return fmt.Errorf("%s: the element jumps to %s: device or resource busy", op, old.Chain)
	}
	return nil
}

// loaded is e as the kernel holds it once loaded into live set s: its
// lifetime starts (Expires) from its own timeout or the set's.
func loaded(s *ruleset.Set, e ruleset.Element) ruleset.Element {
	e.Expires = 0
	if s.Live.Timeout > 0 {
		e.Expires = s.Live.Timeout
		if e.Timeout > 0 {
			e.Expires = e.Timeout
		}
	}
	return e
}

// loadLive starts the lifetime of every element of rs's live sets.
func loadLive(rs *ruleset.Ruleset) {
	for _, s := range rs.Sets {
		if s.Live == nil {
			continue
		}
		elems := s.Elements()
		for i := range elems {
			elems[i] = loaded(s, elems[i])
		}
		s.SetElements(elems)
	}
}

// age counts down the lifetime of the live elements by the time the Clock
// advanced since the last look and removes the expired ones. Without a
// Clock nothing expires. The caller holds f.mu.
func (f *Fake) age() {
	if f.Clock == nil {
		return
	}
	now := f.Clock.Mono()
	d := now - f.aged
	f.aged = now
	if f.table == nil || d <= 0 {
		return
	}
	for _, s := range f.table.Sets {
		if s.Live == nil || s.Live.Timeout == 0 {
			continue
		}
		var kept []ruleset.Element
		for _, e := range s.Elements() {
			if e.Expires > d {
				e.Expires -= d
				kept = append(kept, e)
			}
		}
		s.SetElements(kept)
	}
}

// AddCount adds packets and bytes to the counter of an element of a live
// set that counts, as traffic matching it would. It reports whether the
// element exists.
func (f *Fake) AddCount(set string, key ruleset.Element, packets, bytes uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.age()
	if f.table == nil {
		return false
	}
	s := f.table.Set(set)
	if s == nil || s.Live == nil || !s.Live.Counters {
		return false
	}
	elems := s.Elements()
	for i := range elems {
		if elems[i].Addr == key.Addr && elems[i].Cgroup == key.Cgroup {
			elems[i].Packets += packets
			elems[i].Bytes += bytes
			s.SetElements(elems)
			return true
		}
	}
	return false
}

// UpdateSets makes u on the fake's table atomically, as Conn.UpdateSets
// does: a set or map it names that is missing, live, or declared otherwise
// refuses it all (one message per set or map).
func (f *Fake) UpdateSets(u *ruleset.ElementsUpdate) error { return f.updateSets(nil, u) }

func (f *Fake) updateSets(as *FakeOwner, u *ruleset.ElementsUpdate) error {
	if u.Empty() {
		return nil
	}
	return f.transact("update", len(u.Sets)+len(u.Maps), func() error {
		if err := f.mayChange(as); err != nil {
			return err
		}
		next, err := f.tableToUpdate()
		if err == nil {
			err = u.Apply(next)
		}
		if err != nil {
			return fmt.Errorf("nft fake: update sets, nothing changed: %w", err)
		}
		f.table = next
		return nil
	})
}
