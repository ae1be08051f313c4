package ruleset

import (
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
)

// ElementsUpdate changes the elements of sets and maps of a loaded table
// whose chains, rules and set and map declarations stay as they are: what
// a refresh of hostnames needs when their new addresses fit the same
// layout (ElementsDiff makes it). The kernel makes it in one transaction
// (all of it or nothing). nft equivalent, per set or map:
//
//	destroy element inet leash NAME { DEL... }
//	add element inet leash NAME { ADD... }
//
// or, for an interval set or map (Flush), `flush set inet leash NAME`
// then the `add element` of all its elements: removing an interval may
// merge or split its neighbours, and the kernel deletes intervals only as
// they were added.
type ElementsUpdate struct {
	Sets []SetUpdate `json:"sets,omitempty"`
	Maps []MapUpdate `json:"maps,omitempty"`
}

// SetUpdate changes one set's elements: Del and Add are the set's
// declaration holding the elements to delete and to add (nil: none).
// With Flush every element is deleted first, and Add is the whole set.
type SetUpdate struct {
	Flush bool `json:"flush,omitempty"`
	Del   *Set `json:"del,omitempty"`
	Add   *Set `json:"add,omitempty"`
}

// MapUpdate is SetUpdate for a verdict map: Del and Add hold entries.
type MapUpdate struct {
	Flush bool `json:"flush,omitempty"`
	Del   *Map `json:"del,omitempty"`
	Add   *Map `json:"add,omitempty"`
}

// Name is the set the update changes.
func (u SetUpdate) Name() string { return cmpNonNil(u.Add, u.Del).Name }

// Name is the map the update changes.
func (u MapUpdate) Name() string {
	if u.Add != nil {
		return u.Add.Name
	}
	return u.Del.Name
}

func cmpNonNil(a, b *Set) *Set {
	if a != nil {
		return a
	}
	return b
}

// Empty reports whether u changes nothing.
func (u *ElementsUpdate) Empty() bool { return u == nil || len(u.Sets)+len(u.Maps) == 0 }

// Ops counts the elements u deletes and adds (a flush counts as one).
func (u *ElementsUpdate) Ops() int {
	if u == nil {
		return 0
	}
	n := 0
	for _, s := range u.Sets {
		n += setLen(s.Del) + setLen(s.Add)
		if s.Flush {
			n++
		}
	}
	for _, m := range u.Maps {
		n += mapLen(m.Del) + mapLen(m.Add)
		if m.Flush {
			n++
		}
	}
	return n
}

func setLen(s *Set) int {
	if s == nil {
		return 0
	}
	return len(s.Prefixes) + len(s.Ranges) + len(s.Cgroups)
}

func mapLen(m *Map) int {
	if m == nil {
		return 0
	}
	return len(m.Entries)
}

// String lists the update in nft syntax, one line per set or map.
func (u *ElementsUpdate) String() string {
	var b strings.Builder
	for _, s := range u.Sets {
		if s.Flush {
			fmt.Fprintf(&b, "flush set inet %s %s\n", TableName, s.Name())
		}
		if s.Del != nil {
			fmt.Fprintf(&b, "destroy element inet %s %s { %d elements }\n", TableName, s.Name(), setLen(s.Del))
		}
		if s.Add != nil {
			fmt.Fprintf(&b, "add element inet %s %s { %d elements }\n", TableName, s.Name(), setLen(s.Add))
		}
	}
	for _, m := range u.Maps {
		if m.Flush {
			fmt.Fprintf(&b, "flush map inet %s %s\n", TableName, m.Name())
		}
		if m.Del != nil {
			fmt.Fprintf(&b, "destroy element inet %s %s { %d elements }\n", TableName, m.Name(), mapLen(m.Del))
		}
		if m.Add != nil {
			fmt.Fprintf(&b, "add element inet %s %s { %d elements }\n", TableName, m.Name(), mapLen(m.Add))
		}
	}
	return b.String()
}

// ElementsDiff compares the table old was loaded as with a recompiled
// table next. When they differ in the elements of sets and maps only (the
// same chains and rules, the same sets and maps in the same order with the
// same declarations) it returns the update that takes old's elements to
// next's (empty when the tables are equal) and true. Otherwise it returns
// false: the layout changed, and only a full replace loads next. The
// elements of live sets (Live) are not compared: they belong to the engine.
// Pure; old and next are not changed.
func ElementsDiff(old, next *Ruleset) (*ElementsUpdate, bool) {
	if old == nil || next == nil || len(old.Sets) != len(next.Sets) || len(old.Maps) != len(next.Maps) ||
		!sameChains(old.Chains, next.Chains) {
		return nil, false
	}
	u := &ElementsUpdate{}
	for i, o := range old.Sets {
		n := next.Sets[i]
		if !reflect.DeepEqual(setDecl(o), setDecl(n)) {
			return nil, false
		}
		if o.Live != nil {
			continue
		}
		if su, changed := diffSet(o, n); changed {
			u.Sets = append(u.Sets, su)
		}
	}
	for i, o := range old.Maps {
		n := next.Maps[i]
		if !reflect.DeepEqual(mapDecl(o), mapDecl(n)) {
			return nil, false
		}
		if mu, changed := diffMap(o, n); changed {
			u.Maps = append(u.Maps, mu)
		}
	}
	return u, true
}

// sameChains reports whether a and b are the same chains, rules and
// origins, whatever file name the origins give.
func sameChains(a, b []*Chain) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Name != y.Name || !reflect.DeepEqual(x.Hook, y.Hook) || len(x.Rules) != len(y.Rules) {
			return false
		}
		for j := range x.Rules {
			r, q := *x.Rules[j], *y.Rules[j]
			r.Origin.File, q.Origin.File = "", ""
			if !reflect.DeepEqual(r, q) {
				return false
			}
		}
	}
	return true
}

// setDecl is s without its elements.
func setDecl(s *Set) Set {
	d := *s.Declaration()
	d.Prefixes, d.Ranges = nil, nil
	return d
}

// mapDecl is m without its entries and the origins of their rules (which
// go with the entries: the kernel holds only their ids).
func mapDecl(m *Map) Map {
	d := *m
	d.Entries, d.Origins = nil, nil
	return d
}

func diffSet(o, n *Set) (SetUpdate, bool) {
	if slices.Equal(o.Prefixes, n.Prefixes) && slices.Equal(o.Ranges, n.Ranges) {
		return SetUpdate{}, false
	}
	if o.Interval {
		return SetUpdate{Flush: true, Add: n}, true
	}
	decl := setDecl(o)
	del, add := decl, decl
	del.Prefixes, add.Prefixes = minus(o.Prefixes, n.Prefixes), minus(n.Prefixes, o.Prefixes)
	del.Ranges, add.Ranges = minus(o.Ranges, n.Ranges), minus(n.Ranges, o.Ranges)
	var u SetUpdate
	if len(del.Prefixes)+len(del.Ranges) > 0 {
		u.Del = &del
	}
	if len(add.Prefixes)+len(add.Ranges) > 0 {
		u.Add = &add
	}
	return u, true
}

// minus is the elements of a not in b, in a's order.
func minus[T comparable](a, b []T) []T {
	in := make(map[T]bool, len(b))
	for _, x := range b {
		in[x] = true
	}
	var out []T
	for _, x := range a {
		if !in[x] {
			out = append(out, x)
		}
	}
	return out
}

func diffMap(o, n *Map) (MapUpdate, bool) {
	if reflect.DeepEqual(o.Entries, n.Entries) {
		return MapUpdate{}, false
	}
	if o.Interval {
		return MapUpdate{Flush: true, Add: n}, true
	}
	// A hash map's entry is its key; an entry whose key stays but whose
	// chain, verdict or rule changes is deleted and added again (its
	// counter then starts from zero; the counters of entries that stay are
	// kept, as the kernel's elements are not touched).
	key := func(e MapEntry) string {
		var b strings.Builder
		fmt.Fprint(&b, e.Range.Lo, " ", e.Chain, " ", e.Verdict, " ", e.Rule)
		for _, v := range e.Values {
			b.WriteByte('.')
			if v.Prefix.IsValid() {
				b.WriteString(v.Prefix.String())
			} else {
				b.WriteString(v.Range.String())
			}
		}
		return b.String()
	}
	has := func(es []MapEntry) map[string]bool {
		out := make(map[string]bool, len(es))
		for _, e := range es {
			out[key(e)] = true
		}
		return out
	}
	oin, nin := has(o.Entries), has(n.Entries)
	decl := mapDecl(o)
	del, add := decl, decl
	for _, e := range o.Entries {
		if !nin[key(e)] {
			del.Entries = append(del.Entries, e)
		}
	}
	for _, e := range n.Entries {
		if !oin[key(e)] {
			add.Entries = append(add.Entries, e)
		}
	}
	var u MapUpdate
	if len(del.Entries) > 0 {
		u.Del = &del
	}
	if len(add.Entries) > 0 {
		u.Add = &add
	}
	return u, true
}

// Apply makes u on rs's sets and maps in memory, as the kernel would (the
// fake kernel and the engine's record use it); it fails, changing nothing,
// when a set or map u names is missing or declared otherwise.
func (u *ElementsUpdate) Apply(rs *Ruleset) error {
	if u.Empty() {
		return nil
	}
	idx := NewIndex(rs)
	for _, su := range u.Sets {
		s := idx.Set(su.Name())
		if s == nil || s.Live != nil || !reflect.DeepEqual(setDecl(s), setDecl(cmpNonNil(su.Add, su.Del))) {
			return fmt.Errorf("set %s: no such set of that declaration", su.Name())
		}
	}
	for _, mu := range u.Maps {
		m := idx.Map(mu.Name())
		other := mu.Add
		if other == nil {
			other = mu.Del
		}
		if m == nil || !reflect.DeepEqual(mapDecl(m), mapDecl(other)) {
			return fmt.Errorf("map %s: no such map of that declaration", mu.Name())
		}
	}
	for _, su := range u.Sets {
		s := idx.Set(su.Name())
		var ps []netip.Prefix
		var rs []Range
		if !su.Flush {
			ps, rs = s.Prefixes, s.Ranges
			if su.Del != nil {
				ps, rs = minus(ps, su.Del.Prefixes), minus(rs, su.Del.Ranges)
			}
		}
		if su.Add != nil {
			ps = append(minus(ps, su.Add.Prefixes), su.Add.Prefixes...)
			rs = append(minus(rs, su.Add.Ranges), su.Add.Ranges...)
		}
		slices.SortFunc(ps, comparePrefix)
		slices.SortFunc(rs, func(a, b Range) int { return int64cmp(int64(a.Lo), int64(b.Lo)) })
		s.Prefixes, s.Ranges = ps, rs
	}
	for _, mu := range u.Maps {
		m := idx.Map(mu.Name())
		var es []MapEntry
		if !mu.Flush {
			es = slices.Clone(m.Entries)
			if mu.Del != nil {
				es = slices.DeleteFunc(es, func(e MapEntry) bool {
					return slices.ContainsFunc(mu.Del.Entries, func(d MapEntry) bool { return reflect.DeepEqual(d, e) })
				})
			}
		}
		if mu.Add != nil {
			es = append(es, mu.Add.Entries...)
		}
		slices.SortStableFunc(es, compareEntry)
		m.Entries = es
	}
	return nil
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

func int64cmp(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// compareEntry orders map entries by key, field by field.
func compareEntry(a, b MapEntry) int {
	if c := int64cmp(int64(a.Lo), int64(b.Lo)); c != 0 || len(a.Values) == 0 {
		return c
	}
	for i := range min(len(a.Values), len(b.Values)) {
		x, y := a.Values[i], b.Values[i]
		if c := comparePrefix(x.Prefix, y.Prefix); c != 0 {
			return c
		}
		if c := int64cmp(int64(x.Lo), int64(y.Lo)); c != 0 {
			return c
		}
	}
	return 0
}

// WithElements is rs with the elements of the sets and maps named in sets
// and maps taken from them: the table rs was loaded as, after element
// updates (ElementsDiff). It reports false, and returns rs, when one of
// them is not in rs with the same declaration or is a live set: the
// update was of another layout. rs itself is not changed.
func WithElements(rs *Ruleset, sets []*Set, maps []*Map) (*Ruleset, bool) {
	if len(sets)+len(maps) == 0 {
		return rs, true
	}
	bySet := make(map[string]*Set, len(sets))
	for _, s := range sets {
		bySet[s.Name] = s
	}
	byMap := make(map[string]*Map, len(maps))
	for _, m := range maps {
		byMap[m.Name] = m
	}
	out := *rs
	out.Sets = slices.Clone(rs.Sets)
	out.Maps = slices.Clone(rs.Maps)
	found := 0
	for i, s := range rs.Sets {
		if n := bySet[s.Name]; n != nil {
			if s.Live != nil || !reflect.DeepEqual(setDecl(s), setDecl(n)) {
				return rs, false
			}
			out.Sets[i] = n
			found++
		}
	}
	for i, m := range rs.Maps {
		if n := byMap[m.Name]; n != nil {
			if !reflect.DeepEqual(mapDecl(m), mapDecl(n)) {
				return rs, false
			}
			out.Maps[i] = n
			found++
		}
	}
	if found != len(bySet)+len(byMap) {
		return rs, false
	}
	return &out, true
}
