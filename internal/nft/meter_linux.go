package nft

import (
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/leash-dev/leash/internal/ruleset"
	"golang.org/x/sys/unix"
)

// ctStateNew is NF_CT_STATE_BIT(IP_CT_NEW).
const ctStateNew = 0x8

// matchCtNew is `ct state new`.
func matchCtNew() []expr.Any {
	return []expr.Any{
		&expr.Ct{Key: expr.CtKeySTATE, Register: reg},
		&expr.Bitwise{SourceRegister: reg, DestRegister: reg, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(ctStateNew),
			Xor:  binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: reg, Data: []byte{0, 0, 0, 0}},
	}
}

// newMeterSet is `set NAME { type KIND; size N; flags dynamic[,timeout];
// [timeout T;] }`: uid keys host-endian (as meta skuid loads them),
// addresses big-endian.
func newMeterSet(s *ruleset.Set) (*nftables.Set, error) {
	t, ok := setType(s.Kind)
	if !ok || s.Meter == nil {
		return nil, fmt.Errorf("meter %s: unsupported kind %q", s.Name, s.Kind)
	}
	order := binaryutil.BigEndian
	if s.Kind == ruleset.KindUID {
		order = binaryutil.NativeEndian
	}
	return &nftables.Set{Table: table(), Name: s.Name, KeyType: t, KeyByteOrder: order, Dynamic: true,
		HasTimeout: s.Meter.Timeout > 0, Timeout: s.Meter.Timeout, Size: s.Meter.Size}, nil
}

// meterKeyLoad loads a meter's key: meta skuid, ip daddr or ip6 daddr.
func meterKeyLoad(kind ruleset.SetKind) (expr.Any, bool) {
	if kind == ruleset.KindUID {
		return &expr.Meta{Key: expr.MetaKeySKUID, Register: reg}, true
	}
	p, ok := payloadOf(kind)
	if !ok || (kind != ruleset.KindIPv4 && kind != ruleset.KindIPv6) {
		return nil, false
	}
	return p, true
}

// matchMeter is `update @S { KEY limit rate R/U burst B packets }` or
// `add @S { KEY ct count N }`.
func matchMeter(m ruleset.Match, sets setRef) ([]expr.Any, error) {
	si, ok := sets(m.Set)
	if !ok {
		return nil, fmt.Errorf("match meter: set %q does not exist", m.Set)
	}
	load, ok := meterKeyLoad(si.kind)
	if !ok {
		return nil, fmt.Errorf("match meter: set %q has kind %s", m.Set, si.kind)
	}
	d := &expr.Dynset{SrcRegKey: reg, SetName: m.Set, SetID: si.id}
	switch {
	case m.Limit != nil:
		d.Operation = unix.NFT_DYNSET_OP_UPDATE
		l := limitExpr(m.Limit.Rate, m.Limit.Unit, m.Limit.Burst)
		d.Exprs = []expr.Any{l}
	case m.Count > 0:
		d.Operation = unix.NFT_DYNSET_OP_ADD
		d.Exprs = []expr.Any{&expr.Connlimit{Count: m.Count}}
	default:
		return nil, fmt.Errorf("match meter @%s: no limit", m.Set)
	}
	return []expr.Any{load, d}, nil
}

// guessMeter proposes a meter match for a key load followed by a dynset.
func guessMeter(ex []expr.Any) (ruleset.Match, bool) {
	if len(ex) < 2 {
		return ruleset.Match{}, false
	}
	d, ok := ex[1].(*expr.Dynset)
	if !ok || len(d.Exprs) != 1 {
		return ruleset.Match{}, false
	}
	m := ruleset.Match{Kind: ruleset.MatchMeter, Set: d.SetName}
	switch e := d.Exprs[0].(type) {
	case *expr.Limit:
		if e.Rate > 0xffffffff {
			return m, false
		}
		m.Limit = &ruleset.RateLimit{Rate: uint32(e.Rate), Unit: limitUnit(e.Unit), Burst: e.Burst}
	case *expr.Connlimit:
		m.Count = e.Count
	default:
		return m, false
	}
	return m, true
}

// readMeter decodes a dynamic set as a meter (its elements are the
// kernel's state, not part of the declaration), or says why it is foreign.
func readMeter(rs *ruleset.Ruleset, s *nftables.Set) string {
	kind, ok := kindOf(s.KeyType)
	if !ok || s.IsMap || s.Interval || s.Concatenation || s.Anonymous || s.Constant || s.Counter || s.Size == 0 ||
		(kind != ruleset.KindUID && kind != ruleset.KindIPv4 && kind != ruleset.KindIPv6) {
		return fmt.Sprintf("set %s: a dynamic set of type %s leash does not write", s.Name, s.KeyType.Name)
	}
	m := &ruleset.Meter{Size: s.Size}
	if s.HasTimeout {
		m.Timeout = s.Timeout
	}
	rs.Sets = append(rs.Sets, &ruleset.Set{Name: s.Name, Kind: kind, Meter: m})
	return ""
}

// second2 is ex[1], or nil.
func second2(ex []expr.Any) expr.Any {
	if len(ex) > 1 {
		return ex[1]
	}
	return nil
}
