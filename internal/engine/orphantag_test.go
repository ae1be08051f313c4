package engine

import (
	"context"
	"testing"

	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/state"
)

// TestOrphanTagPerGeneration: every generation whose table differs gets
// the next orphan tag (so connections tagged before are stale); an apply or
// reapply that changes nothing keeps it; the kernel holds what the state
// records. Tags wrap from the mask's largest to 1.
func TestOrphanTagPerGeneration(t *testing.T) {
	h := newHarness(t)
	e := h.engine()
	kernelTag := func() uint32 {
		t.Helper()
		tag, _, ok := compile.OrphanTag(h.k.Table())
		if !ok {
			t.Fatal("the kernel's table has no orphan tag")
		}
		cur, err := h.store.Current()
		if err != nil {
			t.Fatal(err)
		}
		if stored, _, _ := compile.OrphanTag(cur.Ruleset); stored != tag {
			t.Fatalf("generation %d records tag %d, the kernel holds %d", cur.ID, stored, tag)
		}
		// The next apply reads it from the record's head.
		if m, err := h.store.CurrentMeta(); err != nil || m.Orphan == nil || m.Orphan.Tag != tag {
			t.Fatalf("generation %d's metadata: %+v, %v; want orphan tag %d", cur.ID, m, err, tag)
		}
		return tag
	}
	allow, deny := policyFor(t, "allow"), policyFor(t, "deny")
	steps := []struct {
		name string
		do   func() error
		want uint32
	}{
		{"first apply", func() error { _, err := e.Apply(ctx, allow, ApplyOptions{}); return err }, 1},
		{"the same again: unchanged", func() error {
			res, err := e.Apply(ctx, allow, ApplyOptions{})
			if err == nil && !res.Unchanged {
				t.Errorf("apply of the same policy was not unchanged: %+v", res)
			}
			return err
		}, 1},
		{"another table", func() error { _, err := e.Apply(ctx, deny, ApplyOptions{}); return err }, 2},
		{"back to the first table", func() error { _, err := e.Apply(ctx, allow, ApplyOptions{}); return err }, 3},
		{"reapply, same table", func() error {
			_, err := e.Reapply(ctx, func(context.Context, *state.Generation) (*Compiled, error) { return allow, nil })
			return err
		}, 3},
		{"reapply, changed table", func() error {
			_, err := e.Reapply(ctx, func(context.Context, *state.Generation) (*Compiled, error) { return deny, nil })
			return err
		}, 4},
		{"apply --confirm, changed table", func() error { _, err := e.Apply(ctx, allow, ApplyOptions{Confirm: 3600e9}); return err }, 5},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := kernelTag(); got != s.want {
			t.Errorf("%s: tag %d, want %d", s.name, got, s.want)
		}
	}
	if got := compile.NextOrphanTag(127, 0x7f0000); got != 1 {
		t.Errorf("NextOrphanTag(127) = %d, want 1 (wrap)", got)
	}
}
