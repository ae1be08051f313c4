package compile

import (
	"encoding/binary"
	"hash/maphash"
	"net/netip"
	"slices"

	"github.com/leash-dev/leash/internal/ruleset"
)

// setIndex finds sets by content, so that a destination or port list used
// by many rules is laid out and loaded once. Lookups hash the elements
// (no per-element allocation: a list of 100,000 CIDRs shared by ten
// policies costs ten hashes, not ten copies as text) and confirm a hit by
// comparing the elements, so a hash collision never merges two sets. The
// seed is random per index; names and order depend only on the input.
type setIndex struct {
	seed   maphash.Seed
	sets   map[setKey][]*ruleset.Set
	splits map[uint64][]split
}

// setKey is what two identical sets share: kind, layout, and for port and
// ICMP sets the protocol (a set named ..._tcp is never used for UDP), plus
// the hash of the elements.
type setKey struct {
	kind     ruleset.SetKind
	interval bool
	mask     uint8
	proto    string
	sum      uint64
}

// split is one memoized address layout (splitPrefixes).
type split struct {
	in    []netip.Prefix
	parts []addrPart
}

func newSetIndex() *setIndex {
	return &setIndex{seed: maphash.MakeSeed(), sets: map[setKey][]*ruleset.Set{}, splits: map[uint64][]split{}}
}

// add returns the name of a set with s's content under key k (sum unset),
// adding s to rs when there is none.
func (x *setIndex) add(rs *ruleset.Ruleset, k setKey, s *ruleset.Set) string {
	k.sum = x.sumSet(s)
	for _, old := range x.sets[k] {
		if slices.Equal(old.Prefixes, s.Prefixes) && slices.Equal(old.Ranges, s.Ranges) && slices.Equal(old.Times, s.Times) {
			return old.Name
		}
	}
	x.sets[k] = append(x.sets[k], s)
	rs.Sets = append(rs.Sets, s)
	return s.Name
}

// layout is splitPrefixes(ps), computed once per distinct list.
func (x *setIndex) layout(ps []netip.Prefix) []addrPart {
	var h maphash.Hash
	h.SetSeed(x.seed)
	hashPrefixes(&h, ps)
	sum := h.Sum64()
	for _, m := range x.splits[sum] {
		if slices.Equal(m.in, ps) {
			return m.parts
		}
	}
	parts := splitPrefixes(ps)
	x.splits[sum] = append(x.splits[sum], split{in: ps, parts: parts})
	return parts
}

func (x *setIndex) sumSet(s *ruleset.Set) uint64 {
	var h maphash.Hash
	h.SetSeed(x.seed)
	hashPrefixes(&h, s.Prefixes)
	var b [8]byte
	for _, r := range s.Ranges {
		binary.LittleEndian.PutUint32(b[:4], r.Lo)
		binary.LittleEndian.PutUint32(b[4:], r.Hi)
		h.Write(b[:])
	}
	for _, t := range s.Times {
		binary.LittleEndian.PutUint64(b[:], uint64(t.From))
		h.Write(b[:])
	}
	return h.Sum64()
}

func hashPrefixes(h *maphash.Hash, ps []netip.Prefix) {
	for _, p := range ps {
		a := p.Addr().As16()
		h.Write(a[:])
		h.WriteByte(byte(p.Bits()))
		h.WriteByte(byte(p.Addr().BitLen()))
	}
}
