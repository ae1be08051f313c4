package ruleset

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/leash-dev/leash/internal/termtext"
)

// KindCgroup is the key kind of socket cgroup v2 ids (`socket cgroupv2
// level N`): the 64-bit inode number of a cgroup2 directory, which changes
// every time a unit's cgroup is re-created. Its sets are live sets and hold
// their elements in Set.Cgroups.
const KindCgroup SetKind = "cgroupsv2"

// Live declares a set whose elements change while leash runs (a hostname's
// addresses refreshed by TTL, the cgroup ids of a service): its elements
// belong to the engine, not to the generation that declared it. A full
// apply carries them into the new table (with their remaining timeout and
// counters), drift compares a live set by its declaration only, and the
// engine records them in a live snapshot beside the generations.
//
// A live set is a hash set (never Interval) of single addresses (KindIPv4,
// KindIPv6) or of cgroup ids (KindCgroup). nft equivalent:
//
//	set NAME { type KIND; size SIZE; flags timeout; counter; timeout T; }
//
//	  comment "SOURCE"; }
//
// where `size` is left out for 0, `flags timeout` and `timeout T` for a
// zero Timeout, and `counter` unless Counters. The comment, which the
// kernel stores, is what marks a set as live when it is read back: every
// live set has a Source, and no other set has a comment.
type Live struct {
	// Timeout is the default element timeout (0: elements never expire).
	// A set with a Timeout also takes per-element timeouts.
	Timeout time.Duration `json:"timeout,omitempty"`
	// Size caps the number of elements (0: the kernel's default).
	Size uint32 `json:"size,omitempty"`
	// Counters makes each element count the packets and bytes it matched.
	Counters bool `json:"counters,omitempty"`
	// Source names what feeds the set, for people and for refreshing one
	// source alone: "host:NAME" (a hostname's addresses), "unit:NAME" (a
	// service's cgroups). Required; stored as the set's comment.
	Source string `json:"source,omitempty"`
	// Verdicts makes the live set a verdict map (livemap.go): `map NAME {
	// type KIND : verdict; ... }`, each element `KEY : jump CHAIN`.
	Verdicts bool `json:"verdicts,omitempty"`
}

// SourceHost is the Live.Source of the set fed by hostname name.
func SourceHost(name string) string { return "host:" + name }

// ElementState is the kernel's state of one element of a live set.
type ElementState struct {
	// Timeout is the element's own timeout, 0 for the set's default.
	// Loading an element gives it this lifetime from now.
	Timeout time.Duration `json:"timeout,omitempty"`
	// Expires is the lifetime left, as the kernel reports it (0: none or
	// unknown). It is read back only; loading uses Timeout.
	Expires time.Duration `json:"expires,omitempty"`
	// Packets and Bytes are the element's counter (sets with Counters).
	Packets uint64 `json:"packets,omitempty"`
	Bytes   uint64 `json:"bytes,omitempty"`
	// Chain is where an element of a verdict map (Live.Verdicts) jumps:
	// its data, given when it is added; empty in a set.
	Chain string `json:"chain,omitempty"`
}

// Element is one element of a live set: its key (Addr for address sets,
// Cgroup for KindCgroup) and its state.
type Element struct {
	Addr   netip.Addr `json:"addr,omitzero"`
	Cgroup uint64     `json:"cgroup,omitempty"`
	ElementState
}

// Key is the element's key in nft syntax: an address or a cgroup id.
func (e Element) Key() string {
	if e.Addr.IsValid() {
		return e.Addr.String()
	}
	return fmt.Sprint(e.Cgroup)
}

func compareElements(a, b Element) int {
	if c := a.Addr.Compare(b.Addr); c != 0 {
		return c
	}
	return cmp.Compare(a.Cgroup, b.Cgroup)
}

// Elements returns a live set's elements with their state, in order (the
// keys are the set's Prefixes or Cgroups, the state its State, which is
// empty or aligned with them). For any other set it returns nil.
func (s *Set) Elements() []Element {
	if s.Live == nil {
		return nil
	}
	out := make([]Element, 0, len(s.Prefixes)+len(s.Cgroups))
	for _, p := range s.Prefixes {
		out = append(out, Element{Addr: p.Addr()})
	}
	for _, c := range s.Cgroups {
		out = append(out, Element{Cgroup: c})
	}
	if len(s.State) == len(out) {
		for i := range out {
			out[i].ElementState = s.State[i]
		}
	}
	return out
}

// SetElements makes elems (in any order; a repeated key keeps its last
// state) the elements of live set s, keys and state. Elements that do not
// fit s's kind are left to Validate: they are stored as given.
func (s *Set) SetElements(elems []Element) {
	sorted := slices.Clone(elems)
	slices.SortStableFunc(sorted, compareElements)
	sorted = dedupLast(sorted)
	s.Prefixes, s.Cgroups, s.State = nil, nil, nil
	stateful := false
	for _, e := range sorted {
		if e.Addr.IsValid() {
			s.Prefixes = append(s.Prefixes, netip.PrefixFrom(e.Addr, e.Addr.BitLen()))
		} else {
			s.Cgroups = append(s.Cgroups, e.Cgroup)
		}
		s.State = append(s.State, e.ElementState)
		stateful = stateful || e.ElementState != ElementState{}
	}
	if !stateful {
		s.State = nil
	}
}

// dedupLast drops all but the last of each run of equal keys.
func dedupLast(sorted []Element) []Element {
	out := sorted[:0]
	for i, e := range sorted {
		if i+1 < len(sorted) && compareElements(e, sorted[i+1]) == 0 {
			continue
		}
		out = append(out, e)
	}
	return out
}

// Declaration is s without its elements (and their state): what a live
// set is compared by. Other sets are returned as they are.
func (s *Set) Declaration() *Set {
	if s.Live == nil {
		return s
	}
	c := *s
	l := *s.Live
	c.Live, c.Prefixes, c.Cgroups, c.State = &l, nil, nil, nil
	return &c
}

// SameLive reports whether a and b are the same live set for carrying
// elements across a replace: same name, kind and source. Timeout, size and
// counters may change; the elements stay.
func SameLive(a, b *Set) bool {
	return a != nil && b != nil && a.Live != nil && b.Live != nil &&
		a.Name == b.Name && a.Kind == b.Kind && a.Live.Source == b.Live.Source && a.Live.Verdicts == b.Live.Verdicts
}

// validateLive checks a live set's declaration and elements: a hash set of
// single addresses or cgroup ids, state empty or one per element, no
// per-element timeout without a set timeout, no counters unless declared,
// at most Size elements.
func validateLive(s *Set) error {
	l := s.Live
	switch {
	case s.Interval:
		return fmt.Errorf("set %s: a live set is a hash set (no flags interval)", s.Name)
	case s.Kind != KindIPv4 && s.Kind != KindIPv6 && s.Kind != KindCgroup:
		return fmt.Errorf("set %s: a live set holds %s, %s or %s, not %s", s.Name, KindIPv4, KindIPv6, KindCgroup, s.Kind)
	case l.Timeout < 0 || l.Timeout%time.Millisecond != 0:
		return fmt.Errorf("set %s: timeout %s must be a positive whole number of milliseconds (or 0 for none)", s.Name, l.Timeout)
	case l.Source == "" || strings.ContainsAny(l.Source, "\"\n\x00") || len(l.Source) > MaxCommentLen:
		return fmt.Errorf("set %s: source %q: give 1 to %d bytes, no quote, newline or NUL", s.Name, l.Source, MaxCommentLen)
	case len(s.Ranges) > 0:
		return fmt.Errorf("set %s: a live set holds no ranges", s.Name)
	}
	n := len(s.Prefixes) + len(s.Cgroups)
	switch {
	case s.Kind == KindCgroup && len(s.Prefixes) > 0:
		return fmt.Errorf("set %s: kind %s holds cgroup ids, not prefixes", s.Name, s.Kind)
	case s.Kind != KindCgroup && len(s.Cgroups) > 0:
		return fmt.Errorf("set %s: kind %s holds addresses, not cgroup ids", s.Name, s.Kind)
	case len(s.State) != 0 && len(s.State) != n:
		return fmt.Errorf("set %s: %d element states for %d elements", s.Name, len(s.State), n)
	case l.Size > 0 && uint32(n) > l.Size:
		return fmt.Errorf("set %s: %d elements, more than its size %d", s.Name, n, l.Size)
	}
	if s.Kind != KindCgroup {
		if err := validatePrefixes(s); err != nil {
			return err
		}
		for _, p := range s.Prefixes {
			if !p.IsSingleIP() {
				return fmt.Errorf("set %s: element %v: a live set holds single addresses only", s.Name, p)
			}
		}
	}
	for i, c := range s.Cgroups {
		if i > 0 && c <= s.Cgroups[i-1] {
			return fmt.Errorf("set %s: cgroup id %d is repeated or out of order (elements must be sorted)", s.Name, c)
		}
	}
	for i, st := range s.State {
		key := s.Elements()[i].Key()
		switch {
		case st.Timeout < 0 || st.Timeout%time.Millisecond != 0 || st.Expires < 0:
			return fmt.Errorf("set %s: element %s: timeout %s is not a positive whole number of milliseconds", s.Name, key, st.Timeout)
		case st.Timeout > 0 && l.Timeout == 0:
			return fmt.Errorf("set %s: element %s has a timeout, but the set has none (give Live.Timeout)", s.Name, key)
		case (st.Packets > 0 || st.Bytes > 0) && !l.Counters:
			return fmt.Errorf("set %s: element %s has counters, but the set does not count", s.Name, key)
		case (st.Chain != "") != l.Verdicts:
			return fmt.Errorf("set %s: element %s: %s", s.Name, key, chainWant(l.Verdicts))
		}
	}
	if l.Verdicts {
		return validateLiveMap(s)
	}
	return nil
}

// liveFlagsText is the declaration lines of a live set after its type:
// `size N`, `flags timeout`, `counter`, `timeout T`, `comment`, in the
// order nft 1.0.6 lists them (its listing leaves `flags timeout` implied by
// `timeout T`; it prints each element's counter and expiry, which are not
// input: `192.0.2.1 counter packets 0 bytes 0 timeout 30m expires 29m59s`).
func liveFlagsText(l *Live) string {
	var b strings.Builder
	if l.Size > 0 {
		fmt.Fprintf(&b, "\t\tsize %d\n", l.Size)
	}
	if l.Timeout > 0 {
		b.WriteString("\t\tflags timeout\n")
	}
	if l.Counters {
		b.WriteString("\t\tcounter\n")
	}
	if l.Timeout > 0 {
		fmt.Fprintf(&b, "\t\ttimeout %s\n", DurationText(l.Timeout))
	}
	fmt.Fprintf(&b, "\t\tcomment \"%s\"\n", termtext.Escape(l.Source))
	return b.String()
}

// liveElementsText is an address live set's elements in nft input syntax:
// each key, with `timeout T` when the element has its own. (Cgroup ids are
// printed in a comment by writeLiveSet: nft's text form names a cgroupsv2
// element by its path under /sys/fs/cgroup, which an id does not give.)
func liveElementsText(s *Set) []string {
	var out []string
	for _, e := range s.Elements() {
		t := e.Key()
		if e.Timeout > 0 {
			t += " timeout " + DurationText(e.Timeout)
		}
		out = append(out, t)
	}
	return out
}

// DurationText formats d as nft does: "1h30m", "10s", "1d2h", "500ms".
func DurationText(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	var b strings.Builder
	units := []struct {
		name string
		d    time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}, {"ms", time.Millisecond}}
	for _, u := range units {
		if n := d / u.d; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.name)
			d -= n * u.d
		}
	}
	return b.String()
}

// writeLiveSet prints a live set's declaration and elements (the `set`
// block of Text).
func writeLiveSet(b *strings.Builder, s *Set) {
	if s.Live.Verdicts {
		fmt.Fprintf(b, "\tmap %s {\n\t\ttype %s : verdict\n%s", termtext.Field(s.Name), s.Kind, liveFlagsText(s.Live))
	} else {
		fmt.Fprintf(b, "\tset %s {\n\t\ttype %s\n%s", termtext.Field(s.Name), s.Kind, liveFlagsText(s.Live))
	}
	if s.Kind == KindCgroup {
		if len(s.Cgroups) > 0 {
			ids := make([]string, len(s.Cgroups))
			for i, e := range s.Elements() {
				ids[i] = elementText(e)
			}
			fmt.Fprintf(b, "\t\t# cgroup ids: %s\n", strings.Join(ids, ", "))
		}
	} else {
		writeElements(b, liveElementsText(s), 4)
	}
	b.WriteString("\t}\n")
}

// ElementOp is one incremental change to a live set: add (or refresh) or
// delete one element. Adding an element that is present refreshes its
// timeout (and keeps its counter); deleting one that is absent is no error.
// nft equivalent: `add element inet leash SET { KEY [timeout T] }` and
// `destroy element inet leash SET { KEY }` (the kernel's DESTROYSETELEM,
// 6.3 and later; nft 1.0.6 has no such command, and its `delete element`
// fails on an absent element).
type ElementOp struct {
	Set    string  `json:"set"`
	Delete bool    `json:"delete,omitempty"`
	Elem   Element `json:"element"`
}

// String is the op in nft syntax.
func (op ElementOp) String() string {
	if op.Delete {
		return fmt.Sprintf("destroy element inet %s %s { %s }", TableName, op.Set, op.Elem.Key())
	}
	t := elementText(op.Elem)
	if op.Elem.Timeout > 0 {
		t += " timeout " + DurationText(op.Elem.Timeout)
	}
	return fmt.Sprintf("add element inet %s %s { %s }", TableName, op.Set, t)
}

// ValidateOp checks op against the live set it names in rs: the set exists
// and is live, the key fits its kind, a timeout is whole milliseconds and
// only given to a set with timeouts, and no counter values are given.
func ValidateOp(rs Lookup, op ElementOp) error {
	s := rs.Set(op.Set)
	switch {
	case s == nil:
		return fmt.Errorf("%s: no set %s", op, op.Set)
	case s.Live == nil:
		return fmt.Errorf("%s: set %s is not a live set", op, op.Set)
	}
	e := op.Elem
	switch s.Kind {
	case KindCgroup:
		if e.Addr.IsValid() {
			return fmt.Errorf("%s: set %s holds cgroup ids, not addresses", op, op.Set)
		}
	case KindIPv4, KindIPv6:
		if !e.Addr.IsValid() || e.Cgroup != 0 || e.Addr.Is4() != (s.Kind == KindIPv4) || e.Addr.Is4In6() || e.Addr.Zone() != "" {
			return fmt.Errorf("%s: element does not fit set %s of kind %s", op, op.Set, s.Kind)
		}
	}
	switch {
	case e.Timeout < 0 || e.Timeout%time.Millisecond != 0:
		return fmt.Errorf("%s: timeout %s is not a positive whole number of milliseconds", op, e.Timeout)
	case e.Timeout > 0 && (op.Delete || s.Live.Timeout == 0):
		return fmt.Errorf("%s: a timeout needs an added element of a set with timeouts", op)
	case e.Packets != 0 || e.Bytes != 0 || e.Expires != 0:
		return fmt.Errorf("%s: counters and expiry are the kernel's, not given by an update", op)
	case !op.Delete && (e.Chain != "") != s.Live.Verdicts:
		return fmt.Errorf("%s: %s", op, chainWant(s.Live.Verdicts))
	case op.Delete && e.Chain != "":
		return fmt.Errorf("%s: a deleted element is named by its key alone", op)
	}
	if e.Chain != "" {
		return opTarget(rs, op)
	}
	return nil
}
