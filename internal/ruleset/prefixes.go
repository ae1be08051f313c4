package ruleset

import "net/netip"

// RangePrefixes splits the inclusive address range [lo, hi] of one family
// into the fewest prefixes, in order.
func RangePrefixes(lo, hi netip.Addr) []netip.Prefix {
	var out []netip.Prefix
	for i := 0; i <= lo.BitLen()*2 && lo.IsValid() && lo.Compare(hi) <= 0; i++ {
		bits := lo.BitLen()
		for bits > 0 {
			p := netip.PrefixFrom(lo, bits-1)
			if p.Masked().Addr() != lo || LastAddr(p).Compare(hi) > 0 {
				break
			}
			bits--
		}
		p := netip.PrefixFrom(lo, bits)
		out = append(out, p)
		lo = LastAddr(p).Next()
	}
	return out
}
