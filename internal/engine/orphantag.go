package engine

import (
	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/state"
)

// orphanTags returns c with the orphan tag (compile/orphans.go) of the
// table in force, cur (same: c as it would be if applying it changed
// nothing), and with the tag after it (next: c as a recorded change). The
// tag must change whenever the table does: the orphans of connections
// tagged before are then stale and dropped, because nobody can judge them
// by the new rules. Both are c itself when its table has no tag
// (orphan_mark: off); with no current tag (nil), or another mask, both
// carry the first tag. Pure.
func orphanTags(cur *state.OrphanTag, c *Compiled) (same, next *Compiled) {
	if c == nil || c.Ruleset == nil {
		return c, c
	}
	_, mask, ok := compile.OrphanTag(c.Ruleset)
	if !ok {
		return c, c
	}
	with := func(tag uint32) *Compiled {
		out := *c
		out.Ruleset = compile.WithOrphanTag(c.Ruleset, tag)
		return &out
	}
	if cur == nil || cur.Mask != mask {
		first := with(compile.FirstOrphanTag)
		return first, first
	}
	return with(cur.Tag), with(compile.NextOrphanTag(cur.Tag, mask))
}

// tagOf is the orphan tag of rs (nil: none).
func tagOf(rs *ruleset.Ruleset) *state.OrphanTag {
	if tag, mask, ok := compile.OrphanTag(rs); ok {
		return &state.OrphanTag{Tag: tag, Mask: mask}
	}
	return nil
}

// orphanTagsForApply is orphanTags against the current generation, whose
// tag comes from the head of its record (state.Meta.Orphan), so that an
// apply does not decode the stored ruleset for it (seconds for a large
// one).
func (e *Engine) orphanTagsForApply(c *Compiled) (same, next *Compiled) {
	var cur *state.OrphanTag
	if m, err := e.Store.CurrentMeta(); err == nil {
		cur = m.Orphan
	}
	return orphanTags(cur, c)
}
