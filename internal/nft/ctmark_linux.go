package nft

import (
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/leash-dev/leash/internal/ruleset"
)

// matchCtMark is `ct mark & BITS == VALUE` (`!=` with Not), as nft 1.0.6
// encodes it: ct load mark, bitwise AND with the mask, cmp.
func matchCtMark(m ruleset.Match) []expr.Any {
	op := expr.CmpOpEq
	if m.Not {
		op = expr.CmpOpNeq
	}
	return []expr.Any{
		&expr.Ct{Key: expr.CtKeyMARK, Register: reg},
		&expr.Bitwise{SourceRegister: reg, DestRegister: reg, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(m.Bits),
			Xor:  binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: op, Register: reg, Data: binaryutil.NativeEndian.PutUint32(m.Value)},
	}
}

// guessCtMark reads the match matchCtMark encodes (confirmed by the caller).
func guessCtMark(ex []expr.Any) (ruleset.Match, bool) {
	if len(ex) < 3 {
		return ruleset.Match{}, false
	}
	b, ok := ex[1].(*expr.Bitwise)
	c, cok := ex[2].(*expr.Cmp)
	if !ok || !cok || len(b.Mask) != 4 || len(c.Data) != 4 {
		return ruleset.Match{}, false
	}
	return ruleset.Match{Kind: ruleset.MatchCtMark, Bits: binaryutil.NativeEndian.Uint32(b.Mask),
		Value: binaryutil.NativeEndian.Uint32(c.Data), Not: c.Op == expr.CmpOpNeq}, true
}

// markSet is `ct mark set ct mark & ~MASK | VALUE`: ct load mark, bitwise
// (AND ~MASK, XOR VALUE), ct set mark.
func markSet(s *ruleset.MarkSet) []expr.Any {
	return []expr.Any{
		&expr.Ct{Key: expr.CtKeyMARK, Register: reg},
		&expr.Bitwise{SourceRegister: reg, DestRegister: reg, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(^s.Mask),
			Xor:  binaryutil.NativeEndian.PutUint32(s.Value)},
		&expr.Ct{Key: expr.CtKeyMARK, Register: reg, SourceRegister: true},
	}
}

// guessMarkSet reads the verdict markSet encodes (confirmed by the caller).
func guessMarkSet(ex []expr.Any) (ruleset.Verdict, bool) {
	if len(ex) != 3 {
		return ruleset.Verdict{}, false
	}
	b, ok := ex[1].(*expr.Bitwise)
	if !ok || len(b.Mask) != 4 || len(b.Xor) != 4 {
		return ruleset.Verdict{}, false
	}
	return ruleset.Verdict{Kind: ruleset.CtMarkSet, Mark: &ruleset.MarkSet{
		Mask: ^binaryutil.NativeEndian.Uint32(b.Mask), Value: binaryutil.NativeEndian.Uint32(b.Xor)}}, true
}

// matchMPTCPJoin is `tcp option mptcp subtype 1`: the third byte of TCP
// option 30, its high nibble compared with the MP_JOIN subtype. The
// kernel's tcp option lookup fails (the rule does not match) for a packet
// that is not TCP or has no such option.
func matchMPTCPJoin() []expr.Any {
	return []expr.Any{
		&expr.Exthdr{Op: expr.ExthdrOpTcpopt, Type: ruleset.TCPOptMPTCP, Offset: 2, Len: 1, DestRegister: reg},
		&expr.Bitwise{SourceRegister: reg, DestRegister: reg, Len: 1, Mask: []byte{0xf0}, Xor: []byte{0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg, Data: []byte{ruleset.MPTCPSubtypeJoin << 4}},
	}
}
