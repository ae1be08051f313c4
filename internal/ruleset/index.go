package ruleset

// Lookup finds a ruleset's sets, maps and chains by name, nil if absent.
// *Ruleset implements it by linear search (fine for one lookup); *Index by
// hash, which is what any walk over all rules must use, or it is
// rules x sets.
type Lookup interface {
	Set(name string) *Set
	Map(name string) *Map
	Chain(name string) *Chain
}

// Index is a Lookup over a ruleset that no longer changes: built once in
// O(sets + maps + chains), O(1) per lookup. Where names repeat it answers
// like the linear search, with the first of them.
type Index struct {
	sets   map[string]*Set
	maps   map[string]*Map
	chains map[string]*Chain
}

// NewIndex indexes rs. Adding to or renaming within rs afterwards is not
// seen by the index.
func NewIndex(rs *Ruleset) *Index {
	ix := &Index{
		sets:   make(map[string]*Set, len(rs.Sets)),
		maps:   make(map[string]*Map, len(rs.Maps)),
		chains: make(map[string]*Chain, len(rs.Chains)),
	}
	for _, s := range rs.Sets {
		if _, dup := ix.sets[s.Name]; !dup {
			ix.sets[s.Name] = s
		}
	}
	for _, m := range rs.Maps {
		if _, dup := ix.maps[m.Name]; !dup {
			ix.maps[m.Name] = m
		}
	}
	for _, c := range rs.Chains {
		if _, dup := ix.chains[c.Name]; !dup {
			ix.chains[c.Name] = c
		}
	}
	return ix
}

// Set returns the set named name, or nil.
func (ix *Index) Set(name string) *Set { return ix.sets[name] }

// Map returns the verdict map named name, or nil.
func (ix *Index) Map(name string) *Map { return ix.maps[name] }

// Chain returns the chain named name, or nil.
func (ix *Index) Chain(name string) *Chain { return ix.chains[name] }
