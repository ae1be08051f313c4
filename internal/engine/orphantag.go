package engine

import (
	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/ruleset"
)

// orphanTagged returns c with its table's orphan tag (compile/orphans.go)
// chosen against cur, the table in force (nil: none). The tag must change
// whenever the table does: the orphans of connections tagged before are
// then stale and dropped, because nobody can judge them by the new rules.
// So: cur's tag when c's table is otherwise the same as cur (nothing
// changes; also with keep, for a refresh that changes only elements, such
// as hostnames whose departed addresses are kept while connected), else the
// tag after cur's (1 when cur has none, or another mask). c itself when its
// table has no orphan tag (orphan_mark: off). Pure.
func orphanTagged(cur *ruleset.Ruleset, c *Compiled, keep bool) *Compiled {
	if c == nil || c.Ruleset == nil {
		return c
	}
	_, mask, ok := compile.OrphanTag(c.Ruleset)
	if !ok {
		return c
	}
	tag := uint32(compile.FirstOrphanTag)
	if curTag, curMask, ok := compile.OrphanTag(cur); ok && curMask == mask {
		same := compile.WithOrphanTag(c.Ruleset, curTag)
		if keep || sameTable(cur, same) {
			tag = curTag
		} else {
			tag = compile.NextOrphanTag(curTag, mask)
		}
	}
	out := *c
	out.Ruleset = compile.WithOrphanTag(c.Ruleset, tag)
	return &out
}

// sameTable reports whether a and b load into the same kernel state
// (canonical text, counters aside).
func sameTable(a, b *ruleset.Ruleset) bool {
	text := func(rs *ruleset.Ruleset) string { return ruleset.Text(ruleset.Canonical(rs), ruleset.TextOptions{}) }
	return text(a) == text(b)
}

// orphanTagsForApply returns c with the current generation's orphan tag
// (same: what c would be if applying it changed nothing) and with the tag
// after it (next: c as a recorded change). The current tag comes from the
// head of its record (state.Meta.Orphan), so that an apply does not decode
// the stored ruleset for it (seconds for a large one). Both are c itself
// when its table has no tag (orphan_mark: off); with no current tag, or
// another mask, both carry the first tag.
func (e *Engine) orphanTagsForApply(c *Compiled) (same, next *Compiled) {
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
	m, err := e.Store.CurrentMeta()
	if err != nil || m.Orphan == nil || m.Orphan.Mask != mask {
		first := with(compile.FirstOrphanTag)
		return first, first
	}
	return with(m.Orphan.Tag), with(compile.NextOrphanTag(m.Orphan.Tag, mask))
}
