package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/leash-dev/leash/internal/nft"
	"github.com/leash-dev/leash/internal/ruleset"
)

// preparingFake is the fake kernel with PrepareApply (as nft.Conn has it):
// it counts what was prepared, sent and discarded.
type preparingFake struct {
	*nft.Fake
	prepared, sent, discarded atomic.Int32
}

func (p *preparingFake) PrepareApply(ctx context.Context, rs *ruleset.Ruleset) (func() error, func(), error) {
	if err := ruleset.ValidateContext(ctx, rs); err != nil {
		return nil, nil, err
	}
	p.prepared.Add(1)
	send := func() error {
		p.sent.Add(1)
		if err := ctx.Err(); err != nil {
			return err
		}
		return p.Fake.Apply(rs)
	}
	return send, func() { p.discarded.Add(1) }, nil
}

// TestPreparedApply: with a kernel that prepares, apply and a confirmed
// apply send what they prepared once their record is written; a record
// that cannot be written discards it, and the kernel keeps its table; a
// refusal leaves the kernel and the state as they were.
func TestPreparedApply(t *testing.T) {
	h := newHarness(t)
	pk := &preparingFake{Fake: h.k}
	e := h.engine()
	e.OpenKernel = func() (Kernel, error) { return pk, nil }
	first := policyFor(t, "allow")
	if _, err := e.Apply(ctx, first, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	h.kernelHolds(first)
	if p, s, d := pk.prepared.Load(), pk.sent.Load(), pk.discarded.Load(); p != 1 || s != 1 || d != 0 {
		t.Errorf("after apply: prepared %d, sent %d, discarded %d; want 1, 1, 0", p, s, d)
	}

	h.k.RefuseNext(nil)
	if _, err := e.Apply(ctx, policyFor(t, "deny"), ApplyOptions{}); !errors.Is(err, nft.ErrRefused) {
		t.Fatalf("refused apply = %v, want the kernel's refusal", err)
	}
	h.kernelHolds(first)

	// The record cannot be written: generations/ is a file.
	gens := filepath.Join(h.store.Dir, "generations")
	if err := os.Rename(gens, gens+".away"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(gens, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(ctx, policyFor(t, "deny"), ApplyOptions{}); err == nil {
		t.Fatal("apply without a writable record succeeded")
	}
	h.kernelHolds(first)
	if s, d := pk.sent.Load(), pk.discarded.Load(); s != 2 || d != 1 {
		t.Errorf("after the unrecorded apply: sent %d, discarded %d; want 2 (the first and the refused one), 1", s, d)
	}
	if err := os.Remove(gens); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(gens+".away", gens); err != nil {
		t.Fatal(err)
	}

	second := policyFor(t, "deny")
	res, err := e.Apply(ctx, second, ApplyOptions{Confirm: 60e9})
	if err != nil {
		t.Fatal(err)
	}
	if res.Pending == nil {
		t.Fatal("a confirmed apply left no pending confirmation")
	}
	h.kernelHolds(second)
}
