package policy

import (
	"math/bits"
	"strconv"
	"strings"
)

// DefaultOrphanMark is the default of baseline.orphan_mark: the bits of the
// conntrack mark that leash uses to tag connections (internal/compile,
// orphans.go). Its top bit says "judged by a policy", the others hold the
// generation's tag.
const DefaultOrphanMark uint32 = 0x00ff0000

// MPTCPMode says what happens to the MPTCP join subflows the kernel opens
// without an owner (baseline.mptcp_joins).
type MPTCPMode string

// MPTCP join modes; see docs/security.md "packets without an owner".
const (
	// MPTCPDeny (default): an ownerless SYN with an MP_JOIN option is
	// dropped: no user's MPTCP connection gains a subflow the kernel opens
	// on its own (to an address the peer announced).
	MPTCPDeny MPTCPMode = "deny"
	// MPTCPUnowned: no special rule; joins are judged like every other
	// packet without an owner (baseline.unowned).
	MPTCPUnowned MPTCPMode = "unowned"
)

// orphanMark checks `orphan_mark`: `off`, or a hexadecimal mask of 3 to 8
// adjacent bits such as 0x00ff0000 (plain or quoted).
func (p *parser) orphanMark(f field) *Scalar {
	s := p.scalar(f.value, "baseline.orphan_mark")
	if s == nil {
		return nil
	}
	if s.Kind == KindString && s.Value == "off" {
		return s
	}
	if _, err := parseOrphanMark(s.Value); err != nil || (s.Kind != KindString && s.Kind != KindInt) {
		p.errorf(s.Pos, "baseline.orphan_mark must be `off` or a mask of 3 to 8 adjacent bits written in hexadecimal, such as 0x00ff0000; got %s", s.Raw)
		return nil
	}
	return s
}

// parseOrphanMark reads a mask written 0xHHHHHHHH: 3 to 8 adjacent bits (the judged bit and at least 2 tag bits: with one, the tag could never change).
func parseOrphanMark(v string) (uint32, error) {
	h, ok := strings.CutPrefix(strings.ToLower(v), "0x")
	if !ok {
		return 0, strconv.ErrSyntax
	}
	m, err := strconv.ParseUint(h, 16, 32)
	if err != nil {
		return 0, err
	}
	mask := uint32(m)
	n := bits.OnesCount32(mask)
	shifted := mask >> bits.TrailingZeros32(mask)
	if n < 3 || n > 8 || shifted&(shifted+1) != 0 {
		return 0, strconv.ErrRange
	}
	return mask, nil
}

// orphanMarkOf resolves `orphan_mark` (nil: the default; `off`: 0).
func orphanMarkOf(s *Scalar) uint32 {
	if s == nil {
		return DefaultOrphanMark
	}
	m, err := parseOrphanMark(s.Value)
	if err != nil {
		return 0
	}
	return m
}
