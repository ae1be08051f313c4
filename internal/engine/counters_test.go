package engine

import (
	"testing"

	"github.com/leash-dev/leash/internal/drift"
)

// TestCounterReaderFollowsGenerations: the poller's reader names the rules
// of the generation in force, also after a new one was applied (it keeps
// the origins of one generation, not of the first it saw).
func TestCounterReaderFollowsGenerations(t *testing.T) {
	h := newHarness(t)
	e := h.engine()
	read := e.CounterReader()
	if got, err := read(); err != nil || got != nil {
		t.Fatalf("before any apply: %v, %v; want no counters", got, err)
	}
	for _, everyone := range []string{"allow", "deny", "allow"} {
		if _, err := e.Apply(ctx, policyFor(t, everyone), ApplyOptions{}); err != nil {
			t.Fatal(err)
		}
		got, err := read()
		if err != nil {
			t.Fatal(err)
		}
		if text := defaultText(got, "rest/default"); text != "default: "+everyone {
			t.Errorf("after applying default %s: rest/default reads %q", everyone, text)
		}
	}
}

// defaultText is the source text of rule id in cs ("" if absent).
func defaultText(cs []drift.ChainCounters, id string) string {
	for _, c := range cs {
		for _, r := range c.Rules {
			if r.ID == id {
				return r.Text
			}
		}
	}
	return ""
}
