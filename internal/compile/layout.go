package compile

import (
	"net/netip"
	"sort"
	"strconv"

	"github.com/leash-dev/leash/internal/ruleset"
)

// Set layout: which kernel set type holds a list, so that the per-packet cost
// stays flat however long the lists get.
//
// The kernel backs an interval set with an rbtree (O(log n) dependent memory
// loads per lookup: measurably slower at 100,000 elements) and a set without
// the interval flag with a hash table, or a bitmap for 2-byte keys (O(1)).
// A hash set holds single values only, so:
//
//   - uid/gid maps: single ids (and small ranges, expanded) go to a hash map,
//     wide ranges to a separate interval map; the entries are disjoint, so
//     the two lookups never disagree.
//   - port and ICMP type sets: a hash set unless a range is wider than
//     maxExpand values.
//   - address lists: single addresses (resolved hostnames) go to a hash
//     set. Otherwise the merged prefixes are grouped by length; a length
//     with many prefixes becomes a hash set of network addresses looked up
//     with a mask (`ip daddr & 255.255.255.240 @s`): one O(1) lookup for
//     100,000 /28s. The other prefixes stay in one interval set, which for
//     short lists is as fast and reads better in `leash show`. Prefixes are
//     disjoint, so "in any part" is exactly "in the list".
const (
	// maxExpand is the widest numeric range written as single values.
	maxExpand = 16
	// hashGroupMin is how many prefixes of one length earn their own hash
	// set (below it, an rbtree of a few levels costs about the same as one
	// more rule).
	hashGroupMin = 64
	// maxHashGroups bounds the lookups per address list: at most this many
	// hash sets plus one interval set.
	maxHashGroups = 4
)

// addrPart is one lookup of an address list.
type addrPart struct {
	// mask is the prefix length the address is masked to before a hash
	// lookup; 0 for no mask (single addresses, or an interval set).
	mask     uint8
	interval bool
	// elems: prefixes for an interval set, full-length addresses for a hash set.
	elems []netip.Prefix
	// suffix distinguishes the parts' set names ("" or "_28").
	suffix string
}

// splitPrefixes lays out merged, disjoint, sorted prefixes of one family as
// hash and interval parts (see the layout comment above).
func splitPrefixes(ps []netip.Prefix) []addrPart {
	if len(ps) == 0 {
		return nil
	}
	bits := ps[0].Addr().BitLen()
	var count [129]int // prefixes per length
	for _, p := range ps {
		count[p.Bits()]++
	}
	if count[bits] == len(ps) {
		return []addrPart{hashPart(ps, bits, len(ps), bits, "")} // single addresses: no mask needed
	}
	var lens []int
	for l := 1; l <= bits; l++ {
		if count[l] >= hashGroupMin {
			lens = append(lens, l)
		}
	}
	// The biggest groups earn hash sets; ties go to the longer prefix.
	sort.Slice(lens, func(i, j int) bool {
		if a, b := count[lens[i]], count[lens[j]]; a != b {
			return a > b
		}
		return lens[i] > lens[j]
	})
	if len(lens) > maxHashGroups {
		lens = lens[:maxHashGroups]
	}
	sort.Ints(lens)
	var hashed [129]bool
	var parts []addrPart
	for _, l := range lens {
		hashed[l] = true
		parts = append(parts, hashPart(ps, l, count[l], bits, "_"+strconv.Itoa(l)))
	}
	var rest []netip.Prefix
	for _, p := range ps {
		if !hashed[p.Bits()] {
			rest = append(rest, p)
		}
	}
	if len(rest) > 0 {
		parts = append(parts, addrPart{interval: true, elems: rest})
	}
	return parts
}

// hashPart is a hash set of the network addresses of the n prefixes of
// length l in ps, looked up with a mask of l bits unless l is the full
// address length bits.
func hashPart(ps []netip.Prefix, l, n, bits int, suffix string) addrPart {
	part := addrPart{suffix: suffix, elems: make([]netip.Prefix, 0, n)}
	if l < bits {
		part.mask = uint8(l)
	}
	for _, p := range ps {
		if p.Bits() == l {
			part.elems = append(part.elems, netip.PrefixFrom(p.Addr(), bits))
		}
	}
	return part
}

// numLayout returns ranges ready for a set: single values (hash set) when
// every range is at most maxExpand wide, else the ranges as they are
// (interval set).
func numLayout(rs []ruleset.Range) (out []ruleset.Range, interval bool) {
	for _, r := range rs {
		if uint64(r.Hi)-uint64(r.Lo)+1 > maxExpand {
			return rs, true
		}
	}
	for _, r := range rs {
		for v := uint64(r.Lo); v <= uint64(r.Hi); v++ {
			out = append(out, ruleset.Range{Lo: uint32(v), Hi: uint32(v)})
		}
	}
	return out, false
}

// splitEntries divides disjoint, sorted map entries into single ids (small
// ranges expanded) for a hash map and wide ranges for an interval map.
func splitEntries(es []ruleset.MapEntry) (single, wide []ruleset.MapEntry) {
	for _, e := range es {
		if uint64(e.Hi)-uint64(e.Lo)+1 > maxExpand {
			wide = append(wide, e)
			continue
		}
		for v := uint64(e.Lo); v <= uint64(e.Hi); v++ {
			single = append(single, ruleset.MapEntry{Range: ruleset.Range{Lo: uint32(v), Hi: uint32(v)}, Chain: e.Chain})
		}
	}
	return single, wide
}
