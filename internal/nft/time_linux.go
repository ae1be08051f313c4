package nft

import (
	"encoding/binary"

	"github.com/google/nftables/expr"
	"github.com/leash-dev/leash/internal/ruleset"
)

// metaKeyTimeNS is NFT_META_TIME_NS: the packet's time in nanoseconds since
// the Unix epoch (UTC, host-endian u64). The library has no name for it;
// 31 is NFT_META_TIME_DAY and 32 NFT_META_TIME_HOUR.
const metaKeyTimeNS expr.MetaKey = 30

// matchTime is `meta time @S`, as nft 1.0.6 encodes it: the time loaded
// host-endian, converted to big-endian (the order an interval set's keys
// compare in), then the lookup.
func matchTime(m ruleset.Match, sets setRef) ([]expr.Any, bool) {
	si, ok := sets(m.Set)
	if !ok || si.kind != ruleset.KindTime {
		return nil, false
	}
	return []expr.Any{
		&expr.Meta{Key: metaKeyTimeNS, Register: reg},
		&expr.Byteorder{SourceRegister: reg, DestRegister: reg, Op: expr.ByteorderHton, Len: 8, Size: 8},
		&expr.Lookup{SourceRegister: reg, SetName: m.Set, SetID: si.id},
	}, true
}

// guessTime proposes `meta time @S` for ex starting with the time load.
func guessTime(ex []expr.Any) (ruleset.Match, bool) {
	if len(ex) < 3 {
		return ruleset.Match{}, false
	}
	l, ok := ex[2].(*expr.Lookup)
	if !ok {
		return ruleset.Match{}, false
	}
	return ruleset.Match{Kind: ruleset.MatchTime, Set: l.SetName}, true
}

// timeIntervals are a time set's elements as big-endian 8-byte intervals.
func timeIntervals(s *ruleset.Set) []interval {
	out := make([]interval, 0, len(s.Times))
	for _, r := range s.Times {
		iv := interval{start: binary.BigEndian.AppendUint64(nil, uint64(r.From))}
		iv.end = binary.BigEndian.AppendUint64(nil, uint64(r.To))
		out = append(out, iv)
	}
	return out
}

// timesOf is the inverse of timeIntervals.
func timesOf(ivs []interval) []ruleset.TimeRange {
	var out []ruleset.TimeRange
	for _, iv := range ivs {
		to := uint64(1<<63 - 1)
		if iv.end != nil {
			to = getUint(iv.end)
		}
		out = append(out, ruleset.TimeRange{From: int64(getUint(iv.start)), To: int64(to)})
	}
	return out
}
