package nft

import (
	"fmt"

	"github.com/google/nftables"

	"github.com/leash-dev/leash/internal/ruleset"
)

// UpdateSets makes u, changes to the elements of sets and maps whose
// declarations stay (ruleset.ElementsDiff), in one netlink batch, which
// the kernel commits as one transaction: all of it or nothing. Deleted
// elements are destroyed (an absent one is no error); added ones that are
// present stay; a flushed set or map loses every element before its new
// ones are added, in the same transaction, so no packet sees it empty.
// A set or map u names that the table lacks refuses the whole batch. An
// owning Conn sends it on its owning socket (the only one that may change
// the table).
//
// nft equivalent: ruleset.ElementsUpdate (destroy element, flush set,
// add element lines in one `nft -f`).
func (c *Conn) UpdateSets(u *ruleset.ElementsUpdate) error {
	if u.Empty() {
		return nil
	}
	return c.change(func(nc *nftables.Conn) error {
		for _, su := range u.Sets {
			decl := su.Add
			if decl == nil {
				decl = su.Del
			}
			ns, err := newSet(decl)
			if err != nil {
				return err
			}
			var del, add []nftables.SetElement
			if su.Del != nil {
				del = setElements(su.Del)
			}
			if su.Add != nil {
				add = setElements(su.Add)
			}
			if err := updateElements(nc, ns, su.Flush, del, add); err != nil {
				return fmt.Errorf("nft: update set %s: %w", ns.Name, err)
			}
		}
		for _, mu := range u.Maps {
			decl := mu.Add
			if decl == nil {
				decl = mu.Del
			}
			nm, err := newMap(decl)
			if err != nil {
				return err
			}
			var del, add []nftables.SetElement
			if mu.Del != nil {
				del = mapElements(mu.Del)
			}
			if mu.Add != nil {
				add = mapElements(mu.Add)
			}
			if err := updateElements(nc, nm, mu.Flush, del, add); err != nil {
				return fmt.Errorf("nft: update map %s: %w", nm.Name, err)
			}
		}
		if err := nc.Flush(); err != nil {
			return fmt.Errorf("nft: update sets, nothing changed: %w", err)
		}
		return nil
	})
}

// updateElements buffers one set's flush, deletes and adds.
func updateElements(nc *nftables.Conn, s *nftables.Set, flush bool, del, add []nftables.SetElement) error {
	if flush {
		nc.FlushSet(s)
	}
	if len(del) > 0 {
		keys := make([]nftables.SetElement, len(del))
		for i, e := range del { // a delete names keys, not verdicts
			keys[i] = nftables.SetElement{Key: e.Key, KeyEnd: e.KeyEnd, IntervalEnd: e.IntervalEnd}
		}
		if err := nc.SetDestroyElements(s, keys); err != nil {
			return err
		}
	}
	if len(add) > 0 {
		if err := nc.SetAddElements(s, add); err != nil {
			return err
		}
	}
	return nil
}
