// Package drift compares leash's table as the kernel holds it with the
// generation leash last applied, and sums the kernel's rule counters per
// policy. It is pure: the caller reads the kernel and the state directory.
//
// Both sides are compared in canonical form (ruleset.Canonical) and without
// counters, the same way `leash plan` compares a policy with the kernel, so
// a table that was applied and left alone is always in sync. Live sets
// (ruleset.Live) are compared by their declaration only: their elements
// change at run time without a new generation.
package drift

import (
	"github.com/rogpeppe/go-internal/diff"

	"github.com/leash-dev/leash/internal/ruleset"
)

// State is the verdict of a comparison.
type State string

// The four states of `leash status`.
const (
	// InSync: the kernel's table equals the current generation's ruleset.
	InSync State = "in sync"
	// Drifted: the table differs from the current generation (edited,
	// holds content leash did not write, or no generation is recorded).
	Drifted State = "drifted"
	// Missing: a generation is current but the kernel has no table.
	Missing State = "missing"
	// NotApplied: no generation is current and the kernel has no table.
	NotApplied State = "not applied"
)

// Healthy reports whether s needs no attention: in sync, or nothing applied.
func (s State) Healthy() bool { return s == InSync || s == NotApplied }

// Observed is what was read from the kernel.
type Observed struct {
	// Exists is whether table inet leash is in the kernel.
	Exists bool
	// Table is the decoded table, nil when it is absent or could not be
	// decoded because of foreign content.
	Table *ruleset.Ruleset
	// Foreign lists what the table holds that leash did not write (the
	// items of nft.ForeignError).
	Foreign []string
}

// Report is the result of Compare.
type Report struct {
	State State `json:"state"`
	// Foreign lists content of the table leash did not write.
	Foreign []string `json:"foreign,omitempty"`
	// Changes lists what the kernel has that the generation has not
	// ("added") and the reverse ("removed"), item by item.
	Changes []Change `json:"changes,omitempty"`
	// Diff is a unified diff of the canonical nft text, generation to
	// kernel, counters left out.
	Diff string `json:"diff,omitempty"`
}

// Compare judges the kernel's table against applied, the ruleset of the
// current generation (nil when no generation is recorded). diffName names
// applied's side of the diff (e.g. "generation 3").
func Compare(applied *ruleset.Ruleset, seen Observed, diffName string) Report {
	switch {
	case !seen.Exists && applied == nil:
		return Report{State: NotApplied}
	case !seen.Exists:
		return Report{State: Missing}
	case len(seen.Foreign) > 0 || seen.Table == nil:
		return Report{State: Drifted, Foreign: seen.Foreign}
	case applied == nil:
		return Report{State: Drifted, Diff: TableDiff(diffName, nil, "kernel", seen.Table)}
	}
	want := ruleset.Canonical(declared(applied))
	got := ruleset.Canonical(declared(seen.Table))
	d := TableDiff(diffName, want, "kernel", got)
	if d == "" {
		return Report{State: InSync}
	}
	return Report{State: Drifted, Changes: append(Changes(want, got), liveChanges(want, got)...), Diff: d}
}

// TableDiff is a unified diff from table a to table b in nft syntax
// (canonical form, counters left out), or "" when they are the same. A nil
// table is an empty text: the diff then adds or removes everything.
func TableDiff(aName string, a *ruleset.Ruleset, bName string, b *ruleset.Ruleset) string {
	at, bt := canonicalText(a), canonicalText(b)
	if at == bt {
		return ""
	}
	return string(diff.Diff(aName, []byte(at), bName, []byte(bt)))
}

// canonicalText is rs in canonical nft text without counters; "" for nil.
func canonicalText(rs *ruleset.Ruleset) string {
	if rs == nil {
		return ""
	}
	return ruleset.Text(ruleset.Canonical(rs), ruleset.TextOptions{})
}
