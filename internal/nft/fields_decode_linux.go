package nft

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/leash-dev/leash/internal/ruleset"
)

// fieldKinds returns the key fields of a verdict map leash keys by fields
// (ruleset.Map.Fields): a concatenation, or one address, protocol or ICMP
// type field. ok is false for any other set (uid and gid maps included).
func fieldKinds(s *nftables.Set) ([]ruleset.KeyField, bool) {
	if !s.IsMap || s.DataType.Name != nftables.TypeVerdict.Name {
		return nil, false
	}
	if s.Concatenation {
		return nil, false // an interval concatenation (pipapo): not leash's
	}
	types := nftables.ConcatSetTypeElements(s.KeyType) // one type unless a concatenation
	var fields []ruleset.KeyField
	for _, t := range types {
		k, ok := fieldKindOf(t)
		if !ok || k == ruleset.KindUID || k == ruleset.KindGID {
			return nil, false
		}
		fields = append(fields, ruleset.KeyField{Kind: k})
	}
	return fields, len(fields) > 0
}

// fieldKindOf is the inverse of fieldType, by name (a concatenation's
// element types come back without their own lengths).
func fieldKindOf(t nftables.SetDatatype) (ruleset.SetKind, bool) {
	for _, k := range []ruleset.SetKind{ruleset.KindIPv4, ruleset.KindIPv6, ruleset.KindPort, ruleset.KindICMP,
		ruleset.KindICMPv6, ruleset.KindProto, ruleset.KindUID, ruleset.KindGID, ruleset.KindEther, ruleset.KindIfname} {
		if ft, _ := fieldType(k); ft.Name == t.Name {
			return k, true
		}
	}
	return "", false
}

// readFieldsMap decodes a map keyed by fields into rs (masks are learned
// from the rules that look it up, see learnMasks) and returns the foreign
// items found.
//
// exprs are the map's expressions: none, or a counter (Map.Counters),
// in which case every element must have one.
func (c *Conn) readFieldsMap(rs *ruleset.Ruleset, s *nftables.Set, fields []ruleset.KeyField, exprs []string) ([]string, error) {
	if s.Interval && len(fields) > 1 {
		return []string{fmt.Sprintf("set %s: concatenated interval map", s.Name)}, nil
	}
	counters := len(exprs) == 1 && exprs[0] == "counter"
	if len(exprs) > 0 && !counters {
		return []string{fmt.Sprintf("set %s: expressions %v, leash's maps have a counter at most", s.Name, exprs)}, nil
	}
	elems, err := c.dumpSetElements(s.Name)
	if err != nil {
		return nil, fmt.Errorf("set %s: list elements: %w", s.Name, err)
	}
	m := &ruleset.Map{Name: s.Name, Fields: fields, Interval: s.Interval, Counters: counters}
	if s.Interval {
		err = decodeFieldIntervals(m, elems)
	} else {
		err = decodeFieldKeys(m, elems)
	}
	if err == nil {
		err = checkElemCounters(elems, counters)
	}
	if err != nil {
		return []string{fmt.Sprintf("set %s: %v", s.Name, err)}, nil
	}
	rs.Maps = append(rs.Maps, m)
	return nil, nil
}

// decodeFieldIntervals decodes the intervals of a one-field address map.
func decodeFieldIntervals(m *ruleset.Map, elems []rawElem) error {
	k := m.Fields[0].Kind
	if !k.IsAddr() && k != ruleset.KindIfname {
		return fmt.Errorf("interval map of %s", m.Fields[0].Kind)
	}
	ivs, err := decodeIntervals(elems, true)
	if err != nil {
		return err
	}
	if k == ruleset.KindIfname {
		for _, iv := range ivs {
			s, err := ifnameOfInterval(iv)
			if err != nil {
				return err
			}
			e := iv.entry()
			e.Values = []ruleset.KeyValue{{Text: s}}
			m.Entries = append(m.Entries, e)
		}
		return nil
	}
	for _, iv := range ivs {
		ps, err := prefixesOf([]interval{iv})
		if err != nil {
			return err
		}
		for i, p := range ps {
			e := iv.entry()
			e.Values = []ruleset.KeyValue{{Prefix: p}}
			if i > 0 { // one kernel element, one count (leash writes one prefix per interval)
				e.Packets, e.Bytes = 0, 0
			}
			m.Entries = append(m.Entries, e)
		}
	}
	return nil
}

// decodeFieldKeys decodes the keys of a hash map keyed by fields, sorted
// by key bytes (the kernel lists a hash in any order).
func decodeFieldKeys(m *ruleset.Map, elems []rawElem) error {
	n := keyLenOf(m.Fields)
	slices.SortFunc(elems, func(a, b rawElem) int { return bytes.Compare(a.key, b.key) })
	for _, e := range elems {
		if e.end || uint32(len(e.key)) != n {
			return fmt.Errorf("element %x is not a single %d-byte key", e.key, n)
		}
		values, err := getFields(e.key, m.Fields)
		if err != nil {
			return err
		}
		d, err := elemDataOf(e)
		if err != nil {
			return fmt.Errorf("element %x: %w", e.key, err)
		}
		entry := d.entry()
		entry.Values = values
		m.Entries = append(m.Entries, entry)
	}
	return nil
}

// getFields splits a key written by putFields; padding must be zero.
func getFields(key []byte, fields []ruleset.KeyField) ([]ruleset.KeyValue, error) {
	out := make([]ruleset.KeyValue, len(fields))
	var off uint32
	for i, f := range fields {
		l, p := fieldLen(f.Kind), slotLen(fields, i)
		if !allZero(key[off+l : off+p]) {
			return nil, fmt.Errorf("element %x: padding of field %d is not zero", key, i+1)
		}
		switch {
		case isTextKind(f.Kind):
			s, err := getText(key[off:off+l], f.Kind)
			if err != nil {
				return nil, fmt.Errorf("element %x: %w", key, err)
			}
			out[i].Text = s
		case f.Kind.IsAddr():
			a, _ := netip.AddrFromSlice(key[off : off+l])
			out[i].Prefix = netip.PrefixFrom(a, a.BitLen())
		default:
			v := uint32(getUint(key[off : off+l]))
			out[i].Range = ruleset.Range{Lo: v, Hi: v}
		}
		off += p
	}
	return out, nil
}

// learnMasks sets the masks of a fields map's address field from the
// verdict expressions of a rule that looks it up (`ip daddr & MASK . ...`):
// the kernel stores the mask in the rule, not the map. Re-encoding the
// rule then confirms it; a second rule with another mask does not confirm.
func learnMasks(rs *ruleset.Ruleset, ex []expr.Any) {
	if len(ex) == 0 {
		return
	}
	l, ok := ex[len(ex)-1].(*expr.Lookup)
	if !ok {
		return
	}
	m := rs.Map(l.SetName)
	learnSource(m, ex)
	if len(ex) > 2 { // skip a family check before the loads
		if mt, ok := ex[0].(*expr.Meta); ok && mt.Key == expr.MetaKeyNFPROTO {
			ex = ex[2:]
		}
	}
	if m == nil || len(m.Fields) == 0 || !m.Fields[0].Kind.IsAddr() || len(ex) < 3 {
		return
	}
	if _, ok := ex[0].(*expr.Payload); !ok {
		return
	}
	if b, ok := ex[1].(*expr.Bitwise); ok && m.Fields[0].Mask == 0 {
		m.Fields[0].Mask = prefixLen(b.Mask)
	}
}

// checkElemCounters checks that the elements of a map have counters
// exactly when the map declares them (interval ends have none).
func checkElemCounters(elems []rawElem, counters bool) error {
	for _, e := range elems {
		if !e.end && e.counter != counters {
			return fmt.Errorf("element %x: counter %v in a map with counter %v", e.key, e.counter, counters)
		}
	}
	return nil
}
