package compile

import (
	"fmt"
	"math/bits"

	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
)

// The orphan tag: packets that a socket sends after close() (an orphan:
// data queued at close, FIN, retransmissions) have no owner, so no policy
// can judge them; their connection is known to conntrack, so the unowned
// chain would pass them as `ct state established` even when the policy in
// force now denies the destination. leash therefore tags connections in a
// few bits of the conntrack mark (baseline.orphan_mark, default
// 0x00ff0000; never the whole mark, which wg-quick and others use):
//
//   - the top bit of the mask, "judged" (J), is set by every policy chain
//     for the packets its rules judge (after `ct direction reply accept`):
//     the connection belongs to a restricted subject;
//     `ct mark & J == 0 ct mark set ct mark & ~J | J`
//   - the other bits hold a tag, 1..2^(n-1)-1, which the engine changes
//     with every generation whose table differs (WithOrphanTag): a later
//     base chain (ChainOrphanTag, output priority filter + 10), which a
//     packet reaches only if leash's output chain accepted it, writes the
//     current tag into the connection of every owned packet:
//     `ct mark & T == TAG accept; meta skuid >= 0 ct mark set ct mark & ~T | TAG`
//   - the unowned chain drops (and logs) an ownerless packet of a
//     connection that is judged and carries a tag that is neither 0 (never
//     tagged) nor the current one, before its `established` accept:
//     `ct mark & J == J ct mark & T != TAG ct mark & T != 0 drop`.
//
// A connection the policy in force still allows was re-tagged by its
// owner's packets since the change (close() sends the FIN from the owning
// socket), so its orphan passes; one it denies was not (its owned packets
// were dropped), and its orphan is dropped. Per packet: one conntrack mark
// comparison in ChainOrphanTag (a write once per connection and
// generation) and one in each policy chain; nothing grows with users.
const (
	// ChainOrphanTag is the base chain that tags accepted connections.
	ChainOrphanTag = "orphan_tag"
	// OrphanTagPriority is its priority: filter + 10, after leash's output
	// chain (filter) on the same hook.
	OrphanTagPriority = 10
	// FirstOrphanTag is the tag compile writes; the engine chooses the
	// tag of each generation (WithOrphanTag).
	FirstOrphanTag = 1
)

// orphanBits is the layout of baseline.orphan_mark (zero: off).
type orphanBits struct {
	judged uint32 // the top bit of the mask
	tag    uint32 // the other bits
}

// orphanLayoutOf is the layout of b's orphan_mark; off with unowned:
// allow, where every ownerless packet passes and a tag would serve nothing.
func orphanLayoutOf(b policy.Baseline) orphanBits {
	if b.Unowned == policy.UnownedAllow {
		return orphanBits{}
	}
	return orphanLayout(b.OrphanMark)
}

func orphanLayout(mask uint32) orphanBits {
	if mask == 0 {
		return orphanBits{}
	}
	top := uint32(1) << (31 - bits.LeadingZeros32(mask))
	return orphanBits{judged: top, tag: mask &^ top}
}

func (o orphanBits) on() bool { return o.judged != 0 }

// value is tag t in the mark's tag bits.
func (o orphanBits) value(t uint32) uint32 { return t << bits.TrailingZeros32(o.tag) & o.tag }

// MaxOrphanTag is the largest tag a mask holds (0 when off); tags run
// 1..MaxOrphanTag and wrap.
func MaxOrphanTag(mask uint32) uint32 {
	o := orphanLayout(mask)
	if !o.on() {
		return 0
	}
	return o.tag >> bits.TrailingZeros32(o.tag)
}

// orphanJudged is the policy chain's rule that marks its connections as
// judged (see the package's orphan tag notes); nil when off.
func (c *compiler) orphanJudged(p *policy.ResolvedPolicy) []*ruleset.Rule {
	if !c.orphans.on() {
		return nil
	}
	j := c.orphans.judged
	return []*ruleset.Rule{{
		Match:   []ruleset.Match{{Kind: ruleset.MatchCtMark, Bits: j, Value: 0}},
		Verdict: ruleset.Verdict{Kind: ruleset.CtMarkSet, Mark: &ruleset.MarkSet{Mask: j, Value: j}},
		Origin: c.origin(p.Name+"/judged", p.Name, "orphans", 0, p.Pos,
			"connections this policy judges are marked, so that their packets after close() are judged too (orphan_mark)"),
	}}
}

// orphanTagChain is ChainOrphanTag; nil when off.
func (c *compiler) orphanTagChain(b policy.Baseline) *ruleset.Chain {
	if !c.orphans.on() {
		return nil
	}
	t, tag := c.orphans.tag, c.orphans.value(FirstOrphanTag)
	o := func(id, text string) ruleset.Origin {
		return c.origin("orphans/"+id, "", "orphans", 0, b.OrphanMarkPos, text)
	}
	what := setting(fmt.Sprintf("orphan_mark: 0x%08x", b.OrphanMark), b.OrphanMarkPos)
	return &ruleset.Chain{Name: ChainOrphanTag, Hook: &ruleset.Hook{Hook: "output", Priority: OrphanTagPriority}, Rules: []*ruleset.Rule{
		{Match: []ruleset.Match{{Kind: ruleset.MatchCtMark, Bits: t, Value: tag}},
			Verdict: ruleset.Verdict{Kind: ruleset.Accept}, Origin: o("current", "connections tagged in this generation; "+what)},
		{Match: []ruleset.Match{{Kind: ruleset.MatchOwned}},
			Verdict: ruleset.Verdict{Kind: ruleset.CtMarkSet, Mark: &ruleset.MarkSet{Mask: t, Value: tag}},
			Origin:  o("tag", "the connection of an accepted owned packet gets this generation's tag; "+what)},
	}}
}

// staleOrphans are the unowned chain's first rules: an ownerless packet of
// a judged connection whose tag is from another generation is dropped and
// logged; nil when off.
func (c *compiler) staleOrphans(b policy.Baseline) []*ruleset.Rule {
	if !c.orphans.on() {
		return nil
	}
	j, t := c.orphans.judged, c.orphans.tag
	m := []ruleset.Match{
		{Kind: ruleset.MatchCtMark, Bits: j, Value: j},
		{Kind: ruleset.MatchCtMark, Bits: t, Value: c.orphans.value(FirstOrphanTag), Not: true},
		{Kind: ruleset.MatchCtMark, Bits: t, Value: 0, Not: true},
	}
	o := c.origin("unowned/stale-orphan", "", "unowned", 0, b.OrphanMarkPos,
		"packets after close() of a connection no owned packet passed since the policy changed: nobody can judge them; "+
			setting(fmt.Sprintf("orphan_mark: 0x%08x", b.OrphanMark), b.OrphanMarkPos))
	return c.loggedDrop(m, o)
}

// loggedDrop drops the packets that match m, logged first at the denial
// rate (baseline.log) when logging is set up (a Resolved built in Go may
// leave it zero).
func (c *compiler) loggedDrop(m []ruleset.Match, o ruleset.Origin) []*ruleset.Rule {
	drop := &ruleset.Rule{Match: m, Verdict: ruleset.Verdict{Kind: ruleset.Drop}, Origin: o}
	if c.log.Rate == 0 {
		return []*ruleset.Rule{drop}
	}
	return []*ruleset.Rule{c.logRule(policy.Deny, m, o), drop}
}

// OrphanTag returns the tag rs's rules carry and the mask of its tag bits
// (ok false when rs has no orphan tag).
func OrphanTag(rs *ruleset.Ruleset) (tag, mask uint32, ok bool) {
	if rs == nil {
		return 0, 0, false
	}
	ch := rs.Chain(ChainOrphanTag)
	if ch == nil {
		return 0, 0, false
	}
	for _, r := range ch.Rules {
		if r.Verdict.Kind == ruleset.CtMarkSet && r.Verdict.Mark != nil && r.Verdict.Mark.Mask != 0 {
			m := r.Verdict.Mark
			return m.Value >> bits.TrailingZeros32(m.Mask), m.Mask, true
		}
	}
	return 0, 0, false
}

// NextOrphanTag is the tag after t for tag bits mask: t+1, wrapping to 1.
func NextOrphanTag(t, mask uint32) uint32 {
	max := mask >> bits.TrailingZeros32(mask)
	if t >= max {
		return 1
	}
	return t + 1
}

// WithOrphanTag returns rs with its orphan tag set to tag (1..MaxOrphanTag;
// pure, rs is not changed; rs itself when it has no orphan tag). Only the
// tag bits' non-zero comparisons and writes of ChainOrphanTag and the
// unowned chain change.
func WithOrphanTag(rs *ruleset.Ruleset, tag uint32) *ruleset.Ruleset {
	old, mask, ok := OrphanTag(rs)
	if !ok || old == tag {
		return rs
	}
	v := tag << bits.TrailingZeros32(mask) & mask
	out := *rs
	out.Chains = make([]*ruleset.Chain, len(rs.Chains))
	for i, ch := range rs.Chains {
		out.Chains[i] = ch
		if ch.Name != ChainOrphanTag && ch.Name != ChainUnowned {
			continue
		}
		c := *ch
		c.Rules = make([]*ruleset.Rule, len(ch.Rules))
		for k, r := range ch.Rules {
			nr := *r
			nr.Match = append(r.Match[:0:0], r.Match...)
			for n, m := range nr.Match {
				if m.Kind == ruleset.MatchCtMark && m.Bits == mask && m.Value != 0 {
					nr.Match[n].Value = v
				}
			}
			if r.Verdict.Kind == ruleset.CtMarkSet && r.Verdict.Mark != nil && r.Verdict.Mark.Mask == mask {
				nr.Verdict.Mark = &ruleset.MarkSet{Mask: mask, Value: v}
			}
			c.Rules[k] = &nr
		}
		out.Chains[i] = &c
	}
	return &out
}
