package nft

import (
	"fmt"

	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/leash-dev/leash/internal/ruleset"
	"golang.org/x/sys/unix"
)

// reg is the one data register leash's rules use (NFT_REG_1).
const reg = 1

// setInfo is what a lookup needs to know about a set or map: its key kind,
// whether it is an interval set (host-endian keys are then looked up in
// network order), and its transaction-local ID (0 when decoding, where IDs
// do not exist).
type setInfo struct {
	kind     ruleset.SetKind
	interval bool
	id       uint32
	fields   []ruleset.KeyField // maps keyed by fields (ruleset.Map.Fields)
	verdicts bool               // a live verdict map (ruleset.Live.Verdicts)
}

// setRef resolves a set or map name.
type setRef func(name string) (setInfo, bool)

// encodeRule turns one IR rule into kernel expressions: the rule's explicit
// matches (ruleset.ExplicitMatches), the verdict's part before the counter
// (a log's rate limit), a counter, then the verdict, exactly as nft 1.0.6
// encodes the rule's text form.
func encodeRule(rs ruleset.Lookup, r *ruleset.Rule, sets setRef) ([]expr.Any, error) {
	matches, err := ruleset.ExplicitMatches(rs, r)
	if err != nil {
		return nil, err
	}
	var out []expr.Any
	for _, m := range matches {
		e, err := encodeMatch(m, sets)
		if err != nil {
			return nil, err
		}
		out = append(out, e...)
	}
	out = append(out, beforeCounter(r.Verdict)...)
	out = append(out, &expr.Counter{})
	v, err := encodeVerdict(r.Verdict, sets, establishedFamily(matches))
	if err != nil {
		return nil, err
	}
	return append(out, v...), nil
}

// establishedFamily is the family the explicit matches fix (0: none).
func establishedFamily(ms []ruleset.Match) uint32 {
	var f uint32
	for _, m := range ms {
		if m.Kind == ruleset.MatchFamily {
			f = m.Value
		}
	}
	return f
}

// beforeCounter is the part of a verdict that precedes the counter: a log's
// `limit rate R/UNIT burst B packets`, so the counter counts what is logged.
func beforeCounter(v ruleset.Verdict) []expr.Any {
	if v.Kind != ruleset.Log || v.Log == nil {
		return nil
	}
	return []expr.Any{limitExpr(v.Log.Rate, v.Log.Unit, v.Log.Burst)}
}

// limitExpr is `limit rate RATE/UNIT burst BURST packets`.
func limitExpr(rate uint32, unit string, burst uint32) *expr.Limit {
	return &expr.Limit{Type: expr.LimitTypePkts, Rate: uint64(rate), Unit: expr.LimitTime(ruleset.LogUnitSeconds(unit)), Burst: burst}
}

// matchRoutingHeader is `exthdr rt exists` (after its `meta nfproto ipv6`
// dependency, an explicit match): the IPv6 routing header (43) is present.
func matchRoutingHeader() []expr.Any {
	return []expr.Any{
		&expr.Exthdr{Op: expr.ExthdrOpIpv6, Type: unix.IPPROTO_ROUTING, Offset: 0, Len: 1, Flags: unix.NFT_EXTHDR_F_PRESENT, DestRegister: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{1}},
	}
}

// exthdrOpIPv4 is NFT_EXTHDR_OP_IPV4 (kernel 5.3), which google/nftables
// does not name.
const exthdrOpIPv4 expr.ExthdrOp = 2

// matchIPv4Option is `ip option NAME exists` (after its `meta nfproto ipv4`
// dependency): the IPv4 header carries the option of type typ.
func matchIPv4Option(typ uint8) []expr.Any {
	return []expr.Any{
		&expr.Exthdr{Op: exthdrOpIPv4, Type: typ, Offset: 0, Len: 1, Flags: unix.NFT_EXTHDR_F_PRESENT, DestRegister: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{1}},
	}
}

// logExpr is `log prefix "P" group G snaplen N` (NFLOG).
func logExpr(l *ruleset.LogAction) *expr.Log {
	return &expr.Log{Key: 1<<unix.NFTA_LOG_GROUP | 1<<unix.NFTA_LOG_PREFIX | 1<<unix.NFTA_LOG_SNAPLEN,
		Group: l.Group, Snaplen: ruleset.LogSnapLen, Data: []byte(l.Prefix)}
}

// comment is the rule userdata nft writes for `comment "ID"`.
func comment(id string) []byte {
	if id == "" {
		return nil
	}
	return userdata.AppendString(nil, userdata.TypeComment, id)
}

// encodeMatch returns the expressions of one match, with no implicit
// dependencies (those are explicit matches of their own).
func encodeMatch(m ruleset.Match, sets setRef) ([]expr.Any, error) {
	switch m.Kind {
	case ruleset.MatchFamily:
		return matchFamily(m.Value), nil
	case ruleset.MatchL4Proto:
		return metaEq(expr.MetaKeyL4PROTO, []byte{byte(m.Value)}), nil
	case ruleset.MatchOwned:
		return matchOwned(), nil
	case ruleset.MatchLoopback:
		return metaEq(expr.MetaKeyOIF, binaryutil.NativeEndian.PutUint32(1)), nil
	case ruleset.MatchMark:
		return metaEq(expr.MetaKeyMARK, binaryutil.NativeEndian.PutUint32(m.Value)), nil
	case ruleset.MatchCtReply:
		return matchCtReply(), nil
	case ruleset.MatchCtEstablished:
		return matchCtEstablished(), nil
	case ruleset.MatchDaddr, ruleset.MatchDport, ruleset.MatchICMPType:
		return matchSet(m, sets)
	case ruleset.MatchRoutingHeader:
		return matchRoutingHeader(), nil
	case ruleset.MatchSourceRoute:
		return matchIPv4Option(uint8(m.Value)), nil
	case ruleset.MatchOifname:
		return matchOifname(m.Name), nil
	case ruleset.MatchCgroup:
		return matchCgroup(m, sets)
	case ruleset.MatchCtNew:
		return matchCtNew(), nil
	case ruleset.MatchCtMark:
		return matchCtMark(m), nil
	case ruleset.MatchMPTCPJoin:
		return matchMPTCPJoin(), nil
	case ruleset.MatchMeter:
		return matchMeter(m, sets)
	case ruleset.MatchTime:
		if ex, ok := matchTime(m, sets); ok {
			return ex, nil
		}
		return nil, fmt.Errorf("match time: set %q does not exist or is no time set", m.Set)
	case ruleset.MatchLimit:
		if m.Limit == nil {
			return nil, fmt.Errorf("match limit without a rate")
		}
		return []expr.Any{limitExpr(m.Limit.Rate, m.Limit.Unit, m.Limit.Burst)}, nil
	}
	return nil, fmt.Errorf("unknown match kind %q", m.Kind)
}

// matchFamily is `meta nfproto ipv4|ipv6`.
func matchFamily(v uint32) []expr.Any {
	p := byte(unix.NFPROTO_IPV4)
	if v == 6 {
		p = unix.NFPROTO_IPV6
	}
	return metaEq(expr.MetaKeyNFPROTO, []byte{p})
}

// metaEq is `meta KEY == data`.
func metaEq(key expr.MetaKey, data []byte) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: key, Register: reg},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg, Data: data},
	}
}

// matchOwned is `meta skuid >= 0`: nft converts the host-endian uid to
// network order before the comparison. The load fails (and the rule does not
// match) when the packet has no owning full socket with a file.
func matchOwned() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeySKUID, Register: reg},
		hton32(),
		&expr.Cmp{Op: expr.CmpOpGte, Register: reg, Data: []byte{0, 0, 0, 0}},
	}
}

// hton32 is `byteorder reg 1 = hton(reg 1, 4, 4)`, which nft puts after
// host-endian keys (uid, gid) compared by order or looked up in intervals.
func hton32() *expr.Byteorder {
	return &expr.Byteorder{SourceRegister: reg, DestRegister: reg, Op: expr.ByteorderHton, Len: 4, Size: 4}
}

// matchCtReply is `ct direction reply` (IP_CT_DIR_REPLY = 1).
func matchCtReply() []expr.Any {
	return []expr.Any{
		&expr.Ct{Key: expr.CtKeyDIRECTION, Register: reg},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg, Data: []byte{1}},
	}
}

// ctStateEstablishedRelated is the ct state bitmask
// NF_CT_STATE_BIT(ESTABLISHED) | NF_CT_STATE_BIT(RELATED).
const ctStateEstablishedRelated = 0x2 | 0x4

// matchCtEstablished is `ct state established,related`.
func matchCtEstablished() []expr.Any {
	return []expr.Any{
		&expr.Ct{Key: expr.CtKeySTATE, Register: reg},
		&expr.Bitwise{SourceRegister: reg, DestRegister: reg, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(ctStateEstablishedRelated),
			Xor:  binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: reg, Data: []byte{0, 0, 0, 0}},
	}
}

// payloadOf says where the key of a set kind sits in the packet:
// ip daddr (network +16, 4), ip6 daddr (network +24, 16),
// th dport (transport +2, 2), icmp/icmpv6 type (transport +0, 1).
func payloadOf(kind ruleset.SetKind) (*expr.Payload, bool) {
	p := &expr.Payload{OperationType: expr.PayloadLoad, DestRegister: reg}
	switch kind {
	case ruleset.KindIPv4:
		p.Base, p.Offset, p.Len = expr.PayloadBaseNetworkHeader, 16, 4
	case ruleset.KindIPv6:
		p.Base, p.Offset, p.Len = expr.PayloadBaseNetworkHeader, 24, 16
	case ruleset.KindPort:
		p.Base, p.Offset, p.Len = expr.PayloadBaseTransportHeader, 2, 2
	case ruleset.KindICMP, ruleset.KindICMPv6:
		p.Base, p.Offset, p.Len = expr.PayloadBaseTransportHeader, 0, 1
	default:
		return nil, false
	}
	return p, true
}

// matchSet is `ip daddr @S`, `ip6 daddr @S`, `th dport @S`, `icmp type @S`
// or `icmpv6 type @S`: a payload load then a set lookup. A masked daddr
// (`ip daddr & 255.255.255.240 @S`) has a bitwise AND between the two.
func matchSet(m ruleset.Match, sets setRef) ([]expr.Any, error) {
	si, ok := sets(m.Set)
	if !ok {
		return nil, fmt.Errorf("match %s: set %q does not exist", m.Kind, m.Set)
	}
	p, ok := payloadOf(si.kind)
	if !ok {
		return nil, fmt.Errorf("match %s: set %q has kind %s", m.Kind, m.Set, si.kind)
	}
	out := []expr.Any{p}
	if m.Mask > 0 {
		mask := ruleset.MaskAddr(si.kind == ruleset.KindIPv6, m.Mask).AsSlice()
		out = append(out, &expr.Bitwise{SourceRegister: reg, DestRegister: reg, Len: p.Len,
			Mask: mask, Xor: make([]byte, len(mask))})
	}
	return append(out, &expr.Lookup{SourceRegister: reg, SetName: m.Set, SetID: si.id}), nil
}

// encodeVerdict returns the expressions after the counter.
// family is what the rule's matches establish (for a vmap keyed by an
// address field).
func encodeVerdict(v ruleset.Verdict, sets setRef, family uint32) ([]expr.Any, error) {
	switch v.Kind {
	case ruleset.Accept:
		return []expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}}, nil
	case ruleset.Drop:
		return []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}}, nil
	case ruleset.Jump:
		return []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: v.Chain}}, nil
	case ruleset.Goto:
		return []expr.Any{&expr.Verdict{Kind: expr.VerdictGoto, Chain: v.Chain}}, nil
	case ruleset.RejectTCPRST:
		return []expr.Any{&expr.Reject{Type: unix.NFT_REJECT_TCP_RST}}, nil
	case ruleset.RejectAdmin:
		return []expr.Any{&expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_ADMIN_PROHIBITED}}, nil
	case ruleset.Continue:
		return nil, nil
	case ruleset.CtMarkSet:
		if v.Mark == nil {
			return nil, fmt.Errorf("ct mark set without a mark")
		}
		return markSet(v.Mark), nil
	case ruleset.Log:
		if v.Log == nil {
			return nil, fmt.Errorf("log verdict without settings")
		}
		return []expr.Any{logExpr(v.Log)}, nil
	case ruleset.VMap:
		if si, ok := sets(v.Map); ok && si.verdicts {
			return cgroupVerdictMap(v, si)
		}
		return verdictMap(v.Map, sets, family)
	}
	return nil, fmt.Errorf("unknown verdict kind %q", v.Kind)
}

// verdictMap is `meta skuid vmap @M` or `meta skgid vmap @M`, or for a
// map keyed by fields its key expression (fieldsLookup). For an
// interval map the key is converted to network order first (interval
// elements are stored big-endian, as nft does); a hash map is keyed by the
// host-endian id as loaded.
func verdictMap(name string, sets setRef, family uint32) ([]expr.Any, error) {
	si, ok := sets(name)
	if !ok {
		return nil, fmt.Errorf("vmap: map %q does not exist", name)
	}
	if len(si.fields) > 0 {
		return fieldsLookup(name, si, family)
	}
	key := expr.MetaKeySKUID
	switch si.kind {
	case ruleset.KindUID:
	case ruleset.KindGID:
		key = expr.MetaKeySKGID
	default:
		return nil, fmt.Errorf("vmap: map %q has key kind %s", name, si.kind)
	}
	out := []expr.Any{&expr.Meta{Key: key, Register: reg}}
	if si.interval {
		out = append(out, hton32())
	}
	return append(out, &expr.Lookup{SourceRegister: reg, DestRegister: 0, IsDestRegSet: true, SetName: name, SetID: si.id}), nil
}
