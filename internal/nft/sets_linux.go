package nft

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/leash-dev/leash/internal/ruleset"
)

// setType maps an IR kind to the nft data type of a set key.
func setType(k ruleset.SetKind) (nftables.SetDatatype, bool) {
	switch k {
	case ruleset.KindIPv4:
		return nftables.TypeIPAddr, true
	case ruleset.KindIPv6:
		return nftables.TypeIP6Addr, true
	case ruleset.KindPort:
		return nftables.TypeInetService, true
	case ruleset.KindICMP:
		return nftables.TypeICMPType, true
	case ruleset.KindICMPv6:
		return nftables.TypeICMP6Type, true
	case ruleset.KindUID:
		return nftables.TypeUID, true
	case ruleset.KindGID:
		return nftables.TypeGID, true
	case ruleset.KindCgroup:
		return nftables.TypeCGroupV2, true
	case ruleset.KindTime:
		return nftables.TypeTimeDate, true
	}
	return nftables.TypeInvalid, false
}

// kindOf is the inverse of setType.
func kindOf(t nftables.SetDatatype) (ruleset.SetKind, bool) {
	for _, k := range []ruleset.SetKind{ruleset.KindIPv4, ruleset.KindIPv6, ruleset.KindPort,
		ruleset.KindICMP, ruleset.KindICMPv6, ruleset.KindUID, ruleset.KindGID, ruleset.KindCgroup, ruleset.KindTime} {
		if st, _ := setType(k); st.Name == t.Name && st.GetNFTMagic() == t.GetNFTMagic() && st.Bytes == t.Bytes {
			return k, true
		}
	}
	return "", false
}

// newSet is `set NAME { type KIND; [flags interval;] }`. Every key kind of
// a set is big-endian (addresses, ports, ICMP types); nft records that in
// the set's userdata, and so do we.
func newSet(s *ruleset.Set) (*nftables.Set, error) {
	t, ok := setType(s.Kind)
	if !ok {
		return nil, fmt.Errorf("set %s: unsupported kind %q", s.Name, s.Kind)
	}
	return &nftables.Set{Table: table(), Name: s.Name, Interval: s.Interval, KeyType: t,
		KeyByteOrder: binaryutil.BigEndian}, nil
}

// newMap is `map NAME { type uid|gid : verdict; [flags interval;] }`. uid
// and gid keys are host-endian. A hash map stores them so (the rule looks
// up skuid as loaded); an interval map stores them big-endian (the rule
// converts skuid with hton) and the library writes big-endian byte order
// userdata for every interval set, as nft does (checked by the text test).
func newMap(m *ruleset.Map) (*nftables.Set, error) {
	if len(m.Fields) > 0 {
		return newFieldsMap(m)
	}
	t, ok := setType(m.Key)
	if !ok || (m.Key != ruleset.KindUID && m.Key != ruleset.KindGID) {
		return nil, fmt.Errorf("map %s: unsupported key kind %q", m.Name, m.Key)
	}
	return &nftables.Set{Table: table(), Name: m.Name, Interval: m.Interval, IsMap: true,
		KeyType: t, DataType: nftables.TypeVerdict, KeyByteOrder: binaryutil.NativeEndian}, nil
}

// setElements encodes a set's elements: intervals for an interval set,
// one key per element otherwise.
func setElements(s *ruleset.Set) []nftables.SetElement {
	if s.Interval {
		return elements(setIntervals(s), keyLen(s.Kind))
	}
	n := keyLen(s.Kind)
	keys := newKeys(n, len(s.Prefixes)+len(s.Ranges))
	out := make([]nftables.SetElement, 0, len(s.Prefixes)+len(s.Ranges))
	for _, p := range s.Prefixes {
		k := keys.next()
		if n == 4 {
			a := p.Addr().As4()
			copy(k, a[:])
		} else {
			a := p.Addr().As16()
			copy(k, a[:])
		}
		out = append(out, nftables.SetElement{Key: k})
	}
	for _, r := range s.Ranges {
		k := keys.next()
		putUintTo(k, uint64(r.Lo))
		out = append(out, nftables.SetElement{Key: k})
	}
	return out
}

// mapElements encodes a map's entries: intervals for an interval map,
// one host-endian key per entry otherwise.
func mapElements(m *ruleset.Map) []nftables.SetElement {
	if len(m.Fields) > 0 {
		return fieldsElements(m)
	}
	if m.Interval {
		return elements(mapIntervals(m), 4)
	}
	keys := newKeys(4, len(m.Entries))
	jumps := jumpVerdicts{}
	out := make([]nftables.SetElement, 0, len(m.Entries))
	for _, e := range m.Entries {
		k := keys.next()
		binary.NativeEndian.PutUint32(k, e.Lo)
		out = append(out, nftables.SetElement{Key: k, VerdictData: jumps.to(e.Chain)})
	}
	return out
}

// keys hands out fixed-size keys carved from one allocation: a set of
// 100,000 elements costs one buffer, not 100,000 small ones.
type keys struct {
	buf []byte
	n   int
}

func newKeys(n, count int) *keys { return &keys{buf: make([]byte, n*count), n: n} }

// next returns the next unused key (capacity capped, so an append to it
// never writes into its neighbour). It panics past count keys.
func (k *keys) next() []byte {
	b := k.buf[:k.n:k.n]
	k.buf = k.buf[k.n:]
	return b
}

// jumpVerdicts shares one read-only jump verdict per chain among map
// elements (nftables only reads VerdictData when marshalling).
type jumpVerdicts map[string]*expr.Verdict

func (j jumpVerdicts) to(chain string) *expr.Verdict {
	v, ok := j[chain]
	if !ok {
		v = &expr.Verdict{Kind: expr.VerdictJump, Chain: chain}
		j[chain] = v
	}
	return v
}

// interval is a half-open key range [start, end) in network byte order;
// end == nil means open to the top of the key space.
type interval struct {
	start, end []byte
	elemData   // map entries: jump target or verdict, comment, counter
}

// setIntervals returns the intervals of a set's elements, in order.
func setIntervals(s *ruleset.Set) []interval {
	out := make([]interval, 0, len(s.Prefixes)+len(s.Ranges))
	for _, p := range s.Prefixes {
		out = append(out, prefixInterval(p))
	}
	for _, r := range s.Ranges {
		out = append(out, rangeInterval(r, keyLen(s.Kind)))
	}
	return append(out, timeIntervals(s)...)
}

// mapIntervals returns the intervals of a map's entries, in order.
func mapIntervals(m *ruleset.Map) []interval {
	out := make([]interval, 0, len(m.Entries))
	for _, e := range m.Entries {
		iv := rangeInterval(e.Range, 4)
		iv.chain = e.Chain
		out = append(out, iv)
	}
	return out
}

func keyLen(k ruleset.SetKind) int {
	t, _ := setType(k)
	return int(t.Bytes)
}

func prefixInterval(p netip.Prefix) interval {
	start := p.Masked().Addr().AsSlice()
	end := ruleset.LastAddr(p).Next()
	if !end.IsValid() { // the prefix reaches the top of the address space
		return interval{start: start}
	}
	return interval{start: start, end: end.AsSlice()}
}

func rangeInterval(r ruleset.Range, n int) interval {
	iv := interval{start: putUint(uint64(r.Lo), n)}
	if uint64(r.Hi)+1 < 1<<(8*n) {
		iv.end = putUint(uint64(r.Hi)+1, n)
	}
	return iv
}

// putUint writes v big-endian in n bytes.
func putUint(v uint64, n int) []byte {
	b := make([]byte, n)
	putUintTo(b, v)
	return b
}

// putUintTo writes v big-endian into all of b.
func putUintTo(b []byte, v uint64) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
}

func getUint(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// elements encodes intervals as nft 1.0.6 does: a leading interval end at
// key zero unless the first interval starts there, then for each interval a
// start element (carrying the verdict for maps) and an end element with
// NFT_SET_ELEM_INTERVAL_END at the exclusive end. An interval reaching the
// top of the key space has no end element; its start carries the
// NFTNL_UDATA_SET_ELEM_F_INTERVAL_OPEN userdata flag.
func elements(ivs []interval, n int) []nftables.SetElement {
	out := make([]nftables.SetElement, 0, 2*len(ivs)+1)
	jumps := jumpVerdicts{}
	if len(ivs) > 0 && !allZero(ivs[0].start) {
		out = append(out, nftables.SetElement{Key: make([]byte, n), IntervalEnd: true})
	}
	for _, iv := range ivs {
		e := nftables.SetElement{Key: iv.start, IntervalOpen: iv.end == nil}
		if iv.chain != "" || iv.verdict != "" {
			iv.put(&e, jumps)
		}
		out = append(out, e)
		if iv.end != nil {
			out = append(out, nftables.SetElement{Key: iv.end, IntervalEnd: true})
		}
	}
	return out
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// decodeIntervals rebuilds intervals from elements read back from the kernel
// (in any order). End elements that close nothing (nft's leading zero end)
// are ignored. A start not followed by an end runs to the top of the key
// space; a start directly followed by another start is an error.
func decodeIntervals(elems []rawElem, isMap bool) ([]interval, error) {
	slices.SortStableFunc(elems, func(a, b rawElem) int {
		if c := bytes.Compare(a.key, b.key); c != 0 {
			return c
		}
		switch { // an end closes before a start opens
		case a.end == b.end:
			return 0
		case a.end:
			return -1
		}
		return 1
	})
	var out []interval
	var open *interval
	for _, e := range elems {
		if e.end {
			if open != nil {
				open.end = e.key
				out = append(out, *open)
				open = nil
			}
			continue
		}
		if open != nil {
			return nil, fmt.Errorf("element %x starts an interval inside the interval starting at %x", e.key, open.start)
		}
		iv := interval{start: e.key}
		if isMap {
			d, err := elemDataOf(e)
			if err != nil {
				return nil, fmt.Errorf("element %x: %w", e.key, err)
			}
			iv.elemData = d
		}
		open = &iv
	}
	if open != nil {
		out = append(out, *open)
	}
	return out, nil
}

// jumpChain decodes vmap element data, which must be `jump CHAIN`.
// The library leaves it as the raw nested NFTA_VERDICT_* attributes.
func jumpChain(b []byte) (string, error) {
	var code int32
	var chain string
	var seenCode bool
	for len(b) >= 4 {
		l := int(binary.NativeEndian.Uint16(b[0:2]))
		t := binary.NativeEndian.Uint16(b[2:4]) & 0x3fff
		if l < 4 || l > len(b) {
			break
		}
		data := b[4:l]
		switch t {
		case 1: // NFTA_VERDICT_CODE
			if len(data) == 4 {
				code = int32(binary.BigEndian.Uint32(data))
				seenCode = true
			}
		case 2: // NFTA_VERDICT_CHAIN
			chain = string(bytes.TrimRight(data, "\x00"))
		}
		n := (l + 3) &^ 3
		if n > len(b) {
			break
		}
		b = b[n:]
	}
	if !seenCode || expr.VerdictKind(code) != expr.VerdictJump || chain == "" {
		return "", fmt.Errorf("map data is not `jump CHAIN` (verdict code %d, chain %q)", code, chain)
	}
	return chain, nil
}

// rangesOf turns intervals into inclusive numeric ranges of an n-byte key.
func rangesOf(ivs []interval, n int) []ruleset.Range {
	var out []ruleset.Range
	for _, iv := range ivs {
		hi := uint64(1)<<(8*n) - 1
		if iv.end != nil {
			hi = getUint(iv.end) - 1
		}
		out = append(out, ruleset.Range{Lo: uint32(getUint(iv.start)), Hi: uint32(hi)})
	}
	return out
}

// prefixesOf turns address intervals into the fewest covering CIDR
// prefixes, interval by interval (adjacent intervals are not merged, so an
// IR prefix list round-trips exactly).
func prefixesOf(ivs []interval) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, iv := range ivs {
		lo, ok := netip.AddrFromSlice(iv.start)
		if !ok {
			return nil, fmt.Errorf("bad address key %x", iv.start)
		}
		var hi netip.Addr
		if iv.end == nil {
			hi = ruleset.LastAddr(netip.PrefixFrom(lo, 0))
		} else if end, ok := netip.AddrFromSlice(iv.end); ok {
			hi = end.Prev()
		} else {
			return nil, fmt.Errorf("bad address key %x", iv.end)
		}
		out = append(out, rangePrefixes(lo, hi)...)
	}
	return out, nil
}

// rangePrefixes splits the inclusive address range [lo, hi] into prefixes.
func rangePrefixes(lo, hi netip.Addr) []netip.Prefix {
	var out []netip.Prefix
	for i := 0; i <= lo.BitLen()*2 && lo.IsValid() && lo.Compare(hi) <= 0; i++ {
		bits := lo.BitLen()
		for bits > 0 {
			p := netip.PrefixFrom(lo, bits-1)
			if p.Masked().Addr() != lo || ruleset.LastAddr(p).Compare(hi) > 0 {
				break
			}
			bits--
		}
		p := netip.PrefixFrom(lo, bits)
		out = append(out, p)
		lo = ruleset.LastAddr(p).Next()
	}
	return out
}
