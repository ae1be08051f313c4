package ruleset

import "fmt"

// Conntrack marks and MPTCP joins: the vocabulary of the orphan tag
// (internal/compile/orphans.go) and of the MPTCP join rule
// (internal/compile/mptcp.go). See docs/security.md, "packets without an
// owner".
const (
	// MatchCtMark: `ct mark & BITS == VALUE`, or `!=` with Not: the
	// connection's conntrack mark, masked to Match.Bits, is (is not)
	// Match.Value. A packet without a conntrack entry matches neither.
	MatchCtMark MatchKind = "ct-mark"
	// MatchMPTCPJoin: `tcp option mptcp subtype 1`: a TCP segment with an
	// MPTCP MP_JOIN option (RFC 8684: the SYN, SYN-ACK and ACK that open
	// an extra subflow of an MPTCP connection). Non-TCP packets and
	// segments without the option do not match.
	MatchMPTCPJoin MatchKind = "mptcp-join"

	// CtMarkSet writes some bits of the conntrack mark and goes on with the
	// next rule: `ct mark set ct mark & ~MASK | VALUE` (Verdict.Mark). The
	// other bits are kept: other tools (wg-quick, routing by mark) use them.
	CtMarkSet VerdictKind = "ct-mark-set"
)

// MarkSet is a masked write of the conntrack mark: the bits of Mask become
// Value (which has no bits outside Mask), the others stay.
type MarkSet struct {
	Mask  uint32 `json:"mask"`
	Value uint32 `json:"value"`
}

// MPTCP option constants: TCP option kind 30, and the MP_JOIN subtype in
// the high nibble of the option's third byte.
const (
	TCPOptMPTCP      = 30
	MPTCPSubtypeJoin = 1
)

func ctMarkText(m Match) string {
	op := "=="
	if m.Not {
		op = "!="
	}
	return fmt.Sprintf("ct mark & 0x%08x %s 0x%08x", m.Bits, op, m.Value)
}

func markSetText(s *MarkSet) string {
	if s == nil {
		return "# ct mark set without a mark"
	}
	return fmt.Sprintf("ct mark set ct mark & 0x%08x | 0x%08x", ^s.Mask, s.Value)
}

func validateCtMark(m Match) error {
	if m.Bits == 0 || m.Value&^m.Bits != 0 {
		return fmt.Errorf("match ct-mark: value 0x%08x outside its mask 0x%08x", m.Value, m.Bits)
	}
	return nil
}

func validateMarkSet(s *MarkSet) error {
	if s == nil || s.Mask == 0 || s.Value&^s.Mask != 0 {
		return fmt.Errorf("ct mark set: a value within a non-empty mask is required (%+v)", s)
	}
	return nil
}
