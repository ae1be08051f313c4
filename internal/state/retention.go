package state

import (
	"errors"
	"fmt"
	"os"
)

// DefaultKeep is how many generations Prune keeps when Store.Keep is 0.
const DefaultKeep = 50

// Prune removes all but the newest Keep generations, and never the current
// one, the pending one, the one a pending confirmation reverts to, or the
// two an unresolved intent names. It returns the removed ids. When the
// current, pending or intent record cannot be read, it removes nothing
// (those generations might be needed to repair).
func (s *Store) Prune() ([]int, error) {
	keep := s.Keep
	if keep <= 0 {
		keep = DefaultKeep
	}
	ids, err := s.IDs()
	if err != nil || len(ids) <= keep {
		return nil, err
	}
	protect, err := s.protected()
	if err != nil {
		return nil, fmt.Errorf("state: not pruning old generations: %w", err)
	}
	var removed []int
	for _, id := range ids[:len(ids)-keep] {
		if protect[id] {
			continue
		}
		if err := os.RemoveAll(s.genDir(id)); err != nil {
			return removed, fmt.Errorf("state: prune generation %d: %w", id, err)
		}
		removed = append(removed, id)
	}
	return removed, nil
}

// protected are the generations Prune must keep whatever their age.
func (s *Store) protected() (map[int]bool, error) {
	protect := map[int]bool{}
	cur, err := s.CurrentID()
	switch {
	case err == nil:
		protect[cur] = true
	case !errors.Is(err, ErrNone):
		return nil, err
	}
	p, err := s.Pending()
	if err != nil {
		return nil, err
	}
	if p != nil {
		protect[p.Generation] = true
		protect[p.Previous] = true
	}
	in, err := s.Intent()
	if err != nil {
		return nil, err
	}
	if in != nil {
		protect[in.Generation] = true
		protect[in.Previous] = true
	}
	return protect, nil
}
