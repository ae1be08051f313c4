package compile

import (
	"container/heap"
	"net/netip"
	"sort"

	"github.com/leash-dev/leash/internal/ruleset"
)

// First match, resolved at compile time. A group's atoms share one lookup
// whose entries must be disjoint (a packet finds at most one), so every
// overlap goes to the earliest atom that matches it: each cell of the key
// (protocol and port or type, or none) is swept over the address space
// with the claims of the group's atoms, and also of earlier atoms outside
// the group that cover the cell ("shadows": those are evaluated before the
// group, or are disjoint from it, so what they win is decided before the
// lookup). What a shadow wins adds no entry. An atom that wins nothing
// can never match: the basis of the dead-rule warnings.

// cell is the non-address part of a key: a protocol (0 when the key has
// none) and a port or ICMP type (-1 for none).
type cell struct {
	proto uint8
	sub   int32
}

// element is one entry of a group's lookup: the destination prefix
// (invalid when the key has no address field), the cell, and the atom
// whose rule decides it.
type element struct {
	prefix netip.Prefix
	cell   cell
	atom   *atom
}

// resolve returns the entries of g with first-match overlaps removed, in
// cell then address order, and marks in won every atom of g that decides
// at least one entry. all is the policy's atom list.
func resolve(g *group, all []*atom, won map[*atom]bool) []element {
	claims := map[cell][]*atom{}
	var cells []cell
	for _, a := range g.atoms {
		for _, c := range atomCells(g.shape, a) {
			if _, ok := claims[c]; !ok {
				cells = append(cells, c)
			}
			claims[c] = append(claims[c], a)
		}
	}
	sort.Slice(cells, func(i, j int) bool {
		if cells[i].proto != cells[j].proto {
			return cells[i].proto < cells[j].proto
		}
		return cells[i].sub < cells[j].sub
	})
	inGroup := map[*atom]bool{}
	for _, a := range g.atoms {
		inGroup[a] = true
	}
	var out []element
	for _, c := range cells {
		own := claims[c]
		last := own[len(own)-1].idx
		var shadows []*atom
		for _, e := range all[:last] {
			if !inGroup[e] && covers(e, g.shape, c) {
				shadows = append(shadows, e)
			}
		}
		out = append(out, sweepCell(g.shape, c, own, shadows, inGroup, won)...)
	}
	return out
}

// atomCells lists the cells a's entries occupy in a lookup of shape s.
func atomCells(s shape, a *atom) []cell {
	proto := uint8(0)
	if s.protoKey {
		proto = a.proto
	}
	if s.sub == "" {
		return []cell{{proto: proto, sub: -1}}
	}
	elems, _ := numLayout(a.subs) // single values: mergeable checked it
	out := make([]cell, len(elems))
	for i, r := range elems {
		out[i] = cell{proto: proto, sub: int32(r.Lo)}
	}
	return out
}

// covers reports whether atom e (outside the group) matches every packet
// of cell c of a lookup of shape s, apart from its destinations (which the
// sweep handles). Partial cover of a cell without an address field is
// ignored: shadows only remove entries, so missing one is safe.
func covers(e *atom, s shape, c cell) bool {
	switch {
	case e.effFam() != 0 && e.effFam() != shapeFam(s):
		return false
	case s.protoKey && e.proto != 0 && e.proto != c.proto,
		!s.protoKey && s.proto != 0 && e.proto != 0 && e.proto != s.proto,
		!s.protoKey && s.proto == 0 && e.proto != 0:
		return false
	case s.sub == "" && e.sub != "",
		s.sub != "" && e.sub != "" && (e.sub != s.sub || !rangeHas(e.subs, uint32(c.sub))):
		return false
	case s.fam == 0 && e.fam != 0:
		return false // e covers part of the address space of a key without addresses
	}
	return true
}

// shapeFam is the family a lookup of shape s is limited to (0: both).
func shapeFam(s shape) int {
	switch {
	case s.fam != 0:
		return s.fam
	case s.proto == ruleset.ProtoICMP:
		return 4
	case s.proto == ruleset.ProtoICMPv6:
		return 6
	}
	return 0
}

// sweepCell resolves one cell: without an address field the earliest claim
// takes the whole cell; with one, address ranges go to the earliest atom
// claiming them (a sweep over range boundaries with a heap of the active
// claims, O(n log n) in the number of prefixes).
func sweepCell(s shape, c cell, own, shadows []*atom, inGroup, won map[*atom]bool) []element {
	if s.fam == 0 {
		first := own[0]
		for _, e := range shadows {
			if e.idx < first.idx {
				first = e
			}
		}
		if !inGroup[first] {
			return nil
		}
		won[first] = true
		return []element{{cell: c, atom: first}}
	}
	var segs []addrSeg
	for _, list := range [][]*atom{own, shadows} {
		for _, a := range list {
			if a.fam == 0 { // a shadow without destinations: the whole family
				whole := netip.PrefixFrom(netip.IPv6Unspecified(), 0)
				if s.fam == 4 {
					whole = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
				}
				segs = append(segs, addrSeg{lo: whole.Addr(), hi: ruleset.LastAddr(whole), a: a})
				continue
			}
			for _, p := range a.pfx {
				segs = append(segs, addrSeg{lo: p.Addr(), hi: ruleset.LastAddr(p), a: a})
			}
		}
	}
	var out []element
	for _, piece := range sweepAddrs(segs) {
		if !inGroup[piece.a] {
			continue
		}
		won[piece.a] = true
		for _, p := range ruleset.RangePrefixes(piece.lo, piece.hi) {
			out = append(out, element{prefix: p, cell: c, atom: piece.a})
		}
	}
	return out
}

// addrSeg claims the addresses [lo, hi] for atom a; the lower a.idx wins.
type addrSeg struct {
	lo, hi netip.Addr
	a      *atom
}

// sweepAddrs resolves overlapping claims into sorted, disjoint pieces, each
// going to the earliest atom covering it; touching pieces of one atom are
// merged. It is assign (assign.go) over addresses.
func sweepAddrs(segs []addrSeg) []addrSeg {
	if len(segs) == 0 {
		return nil
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].lo.Less(segs[j].lo) })
	var (
		out    []addrSeg
		active = &addrHeap{}
		next   = 0
		pos    = segs[0].lo
		done   = false // pos went past the top of the address space
	)
	for !done && (next < len(segs) || active.Len() > 0) {
		if active.Len() == 0 && segs[next].lo.Compare(pos) > 0 {
			pos = segs[next].lo
		}
		for next < len(segs) && segs[next].lo.Compare(pos) <= 0 {
			heap.Push(active, segs[next])
			next++
		}
		for active.Len() > 0 && (*active)[0].hi.Less(pos) {
			heap.Pop(active) // ended before pos
		}
		if active.Len() == 0 {
			continue
		}
		top := (*active)[0]
		end := top.hi
		if next < len(segs) && segs[next].lo.Prev().Less(end) {
			end = segs[next].lo.Prev()
		}
		if n := len(out); n > 0 && out[n-1].a == top.a && out[n-1].hi.Next() == pos {
			out[n-1].hi = end
		} else {
			out = append(out, addrSeg{lo: pos, hi: end, a: top.a})
		}
		if pos = end.Next(); !pos.IsValid() {
			done = true
		}
	}
	return out
}

// addrHeap orders active claims by atom order; expired ones are popped
// lazily, so the top may have ended (checked by the caller).
type addrHeap []addrSeg

func (h addrHeap) Len() int           { return len(h) }
func (h addrHeap) Less(i, j int) bool { return h[i].a.idx < h[j].a.idx }
func (h addrHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *addrHeap) Push(x any)        { *h = append(*h, x.(addrSeg)) }
func (h *addrHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
