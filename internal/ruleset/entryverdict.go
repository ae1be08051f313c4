package ruleset

import (
	"fmt"
	"strings"
)

// Map entries that carry their rule's verdict (issue 16). A rule list
// compiled into a shared lookup (compile/flat.go) used to send every
// entry to a chain per rule holding only `counter accept`; for 200
// policies of 1,000 rules that was 200,000 chains, and most of the
// kernel's transaction. Where the rule's chain would hold nothing but its
// counter and an accept or drop, the entry now holds both itself:
//
//	map NAME {
//	    type ipv4_addr . inet_proto . inet_service : verdict
//	    counter
//	    elements = { 192.0.2.0 . tcp . 25 counter comment "web/r3" : accept }
//	}
//
// Map.Counters is the map's `counter` declaration (NFTA_SET_EXPR): the
// kernel gives every element a counter of its own, so a rule's counter is
// the sum of its entries' (drift.Counters). MapEntry.Rule is the deciding
// rule's Origin.ID, stored as the element's comment (NFTA_SET_ELEM_USERDATA),
// which is what `nft list` and `leash show` print and what the decoder
// reads back. Map.Origins holds the full origins of those rules (file,
// line, source text) for `leash check` and `leash status`; the kernel
// holds only the ids, so a map read back has none until engine.Annotate
// copies them from the generation.
//
// Only maps keyed by Fields take such entries; a map's entries may mix
// them with jumps (a rule that logs or rejects keeps its chain).

// Target is what the entry does, in nft syntax: `jump CHAIN`, `accept` or
// `drop`.
func (e MapEntry) Target() string {
	if e.Verdict != "" {
		return string(e.Verdict)
	}
	return "jump " + e.Chain
}

// EntryVerdict is the entry's verdict as a rule's: the terminal verdict
// it carries, or a jump to its chain.
func (e MapEntry) EntryVerdict() Verdict {
	if e.Verdict != "" {
		return Verdict{Kind: e.Verdict}
	}
	return Verdict{Kind: Jump, Chain: e.Chain}
}

// Origin returns the origin of rule id among the map's Origins, or one
// holding only the id when the map does not know it.
func (m *Map) Origin(id string) Origin {
	for _, o := range m.Origins {
		if o.ID == id {
			return o
		}
	}
	return Origin{ID: id}
}

// EntryRule is entry e of m, which carries its own verdict, as the rule
// that decides the packets it holds: its verdict, its rule's origin and
// its counters. eval returns it as the deciding rule.
func EntryRule(m *Map, e MapEntry) *Rule {
	return &Rule{Verdict: e.EntryVerdict(), Origin: m.Origin(e.Rule), Packets: e.Packets, Bytes: e.Bytes}
}

// entryText renders an entry as nft lists it, with its counter when the
// map counts (its values when counters is set) and its comment:
// `192.0.2.0 . tcp . 25 counter comment "web/r3" : accept`.
func entryText(m *Map, e MapEntry, counters bool) string {
	var b strings.Builder
	b.WriteString(entryKeyText(m, e))
	switch {
	case m.Counters && counters:
		fmt.Fprintf(&b, " counter packets %d bytes %d", e.Packets, e.Bytes)
	case m.Counters:
		b.WriteString(" counter")
	}
	if e.Rule != "" {
		fmt.Fprintf(&b, " comment %q", e.Rule)
	}
	b.WriteString(" : ")
	b.WriteString(e.Target())
	return b.String()
}

// validateEntryVerdict checks what an entry does: a jump to an existing
// regular chain, or (Fields maps only) accept or drop for a rule id that
// fits a comment. Rule is set exactly with Verdict.
func validateEntryVerdict(m *Map, e MapEntry, targets jumpTargets, chains chainIndex) error {
	switch {
	case e.Verdict == "" && e.Rule != "":
		return fmt.Errorf("rule %q without a verdict of its own", e.Rule)
	case e.Verdict == "":
		return targets.check(chains, e.Chain)
	case len(m.Fields) == 0:
		return fmt.Errorf("verdict %s: only maps keyed by fields hold verdicts in their entries", e.Verdict)
	case e.Chain != "":
		return fmt.Errorf("both verdict %s and jump %s", e.Verdict, e.Chain)
	case e.Verdict != Accept && e.Verdict != Drop:
		return fmt.Errorf("verdict %q: an entry holds accept, drop or a jump", e.Verdict)
	case e.Rule == "":
		return fmt.Errorf("verdict %s without the rule it belongs to", e.Verdict)
	}
	return validateComment(e.Rule)
}
