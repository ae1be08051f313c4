package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/leash-dev/leash/internal/drift"
	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/state"
)

// ApplyOptions modify Apply.
type ApplyOptions struct {
	// Confirm, when > 0, is the confirmation window: unless Confirm is
	// called within it, the reverter puts the last confirmed generation
	// back (or removes the table if there was none).
	Confirm time.Duration
}

// ApplyResult is what Apply did.
type ApplyResult struct {
	// Generation is the new generation, in force.
	Generation int `json:"generation"`
	// DroppedPending is the generation that was awaiting confirmation and
	// that a plain apply replaced (0: none): nothing will be reverted.
	DroppedPending int `json:"dropped_pending,omitempty"`
	// Pending is the confirmation this apply awaits (with Confirm).
	Pending *state.Pending `json:"pending,omitempty"`
	// RevertsTo describes the generation a revert would restore (with
	// Confirm; nil when the revert removes the table or it does not read).
	RevertsTo *state.Meta `json:"-"`
	// Unchanged: the current generation already is this policy (same
	// file, source and table), the kernel holds it and nothing is pending:
	// nothing was changed or recorded, and Generation is the current one.
	Unchanged bool `json:"unchanged,omitempty"`
}

// Apply enforces c: it replaces the kernel's table in one transaction and
// records it as a new generation, in two phases (record). Without a
// confirmation window, a pending confirmation is dropped. Atomic: on error
// the kernel holds the old table, and the state says so. Idempotent in
// effect (the same table again), though every call is a generation.
func (e *Engine) Apply(ctx context.Context, c *Compiled, opt ApplyOptions) (*ApplyResult, error) {
	if opt.Confirm < 0 {
		return nil, fmt.Errorf("confirmation window %s: give a positive duration such as 60s", opt.Confirm)
	}
	var res *ApplyResult
	err := e.locked(ctx, false, func(k Kernel) error {
		pend, err := e.Store.Pending()
		if err != nil {
			return fmt.Errorf("%w: run %s to clear it, then apply again", err, e.command("confirm"))
		}
		if opt.Confirm > 0 {
			res, err = e.applyConfirmed(ctx, k, c, pend, opt.Confirm)
		} else {
			res, err = e.applyPlain(ctx, k, c, pend)
		}
		return err
	})
	return res, err
}

// applyPlain enforces c and records it; a pending confirmation is dropped.
// An apply that would change nothing records nothing (unchanged).
func (e *Engine) applyPlain(ctx context.Context, k Kernel, c *Compiled, pend *state.Pending) (*ApplyResult, error) {
	same, next := e.orphanTagsForApply(c) // orphantag.go
	if id := e.unchanged(k, same, pend); id > 0 {
		return &ApplyResult{Generation: id, Unchanged: true}, nil
	}
	c = next
	p := e.prepare(ctx, k, c.Ruleset) // prepare.go: encoded while the record is written
	defer p.close()
	id, err := e.record(ctx, e.appliedGeneration(c), true, c.Path, func(int) error {
		return e.applyTable(ctx, c, p)
	})
	if err != nil {
		return nil, err
	}
	res := &ApplyResult{Generation: id}
	if pend != nil {
		res.DroppedPending = pend.Generation
	}
	e.prune()
	return res, nil
}

// applyConfirmed enforces c with a safety net. Order matters: the new
// generation and its intent (record), then the pending record and the
// reverter exist before the kernel changes, so that whatever happens to
// this process afterwards, the change is reverted at the deadline unless
// confirmed. The record keeps a confirmation it replaces (pend) in
// Replaces: if this process dies before the kernel changes, recovery puts
// pend back, and pend's reverter, which waits while the record may still
// fall back to it (state.Pending.Awaits), reverts the generation in force.
func (e *Engine) applyConfirmed(ctx context.Context, k Kernel, c *Compiled, pend *state.Pending, window time.Duration) (*ApplyResult, error) {
	if e.StartReverter == nil {
		return nil, errors.New("cannot apply with a confirmation window: this leash cannot start a reverter")
	}
	prev, err := e.revertTarget(pend)
	if err != nil {
		return nil, err
	}
	_, c = e.orphanTagsForApply(c) // orphantag.go: a confirmed apply is a change
	table := e.prepare(ctx, k, c.Ruleset)
	defer table.close()
	p := &state.Pending{Previous: prev, Deadline: e.Clock.Now().Add(window).UTC(), Window: fmt.Sprintf("%gs", window.Seconds()), Replaces: settled(pend)}
	id, err := e.record(ctx, e.appliedGeneration(c), false, c.Path, func(next int) error {
		p.Generation = next
		return e.applyWithReverter(ctx, c, table, pend, p)
	})
	if err != nil && id != 0 {
		return nil, fmt.Errorf("%w (it is still reverted at %s)", err, FormatTime(p.Deadline))
	}
	if err != nil {
		return nil, err
	}
	e.prune()
	res := &ApplyResult{Generation: id, Pending: p}
	if p.Previous > 0 {
		if m, err := e.Store.Load(p.Previous); err == nil {
			res.RevertsTo = &m.Meta
		}
	}
	return res, nil
}

// unchanged is the current generation's id when applying c would change
// nothing: no confirmation is pending, the current generation was applied
// from the same file with the same source and compiles to the same table,
// and the kernel holds that table (counters aside). 0 otherwise.
func (e *Engine) unchanged(k Kernel, c *Compiled, pend *state.Pending) int {
	// The metadata and the source first: decoding a large ruleset takes
	// seconds, and most applies change the source.
	if m, err := e.Store.CurrentMeta(); pend != nil || err != nil || m.PolicyFile != c.absPath() {
		return 0
	} else if src, err := e.Store.PolicySource(m.ID); err != nil || !bytes.Equal(src, c.Source) {
		return 0
	}
	cur, err := e.Store.Current()
	if pend != nil || err != nil || cur.Ruleset == nil || cur.PolicyFile != c.absPath() || !bytes.Equal(cur.Policy, c.Source) {
		return 0
	}
	if drift.TableDiff("current", cur.Ruleset, "new", c.Ruleset) != "" {
		return 0
	}
	if seen, err := Observe(k); err != nil || drift.Compare(cur.Ruleset, seen, "").State != drift.InSync {
		return 0
	}
	return cur.ID
}

// settled is the pending confirmation pend as a new one keeps it in
// Replaces: a copy without its own Replaces, which only mattered until
// pend's change was settled (it is: the caller holds the lock and has
// recovered). nil for nil.
func settled(pend *state.Pending) *state.Pending {
	if pend == nil {
		return nil
	}
	c := *pend
	c.Replaces = nil
	return &c
}

// applyWithReverter records p, starts the reverter and then changes the
// kernel. If anything fails, the pending record in force before (pend) is
// put back, so the new reverter finds nothing to revert, and the kernel is
// as it was.
func (e *Engine) applyWithReverter(ctx context.Context, c *Compiled, table *prepared, pend, p *state.Pending) error {
	if err := e.Store.SetPending(p); err != nil {
		return fmt.Errorf("record the pending confirmation, nothing changed: %w", err)
	}
	undo := func() { e.restorePending(pend) }
	pid, err := e.StartReverter(p)
	if err != nil {
		undo()
		return fmt.Errorf("start the automatic revert, nothing changed: %w", err)
	}
	p.ReverterPID = pid
	if err := e.Store.SetPending(p); err != nil { // only adds the reverter's pid
		e.warn("%v", err)
	}
	if err := e.applyTable(ctx, c, table); err != nil {
		undo()
		return err
	}
	return nil
}

// applyTable replaces the kernel's table with c's (carrying the live
// elements), prepared as table, saying so if refused; it stops with
// nothing changed if ctx ends before the table is sent.
func (e *Engine) applyTable(ctx context.Context, c *Compiled, table *prepared) error {
	if err := table.sendTable(); err != nil {
		if ierr := interrupted(ctx); ierr != nil {
			return ierr
		}
		return fmt.Errorf("apply %s: the kernel refused table inet %s, nothing changed: %w", c.Path, ruleset.TableName, err)
	}
	return nil
}

// revertTarget is the generation a revert goes back to: the last confirmed
// one. While a confirmation is pending that is its Previous, otherwise the
// current generation (0: none, the revert removes the table). It must be
// loadable, or there would be nothing safe to revert to.
func (e *Engine) revertTarget(pend *state.Pending) (int, error) {
	prev, err := 0, error(nil)
	if pend != nil {
		prev = pend.Previous
	} else if prev, err = e.Store.CurrentID(); errors.Is(err, state.ErrNone) {
		return 0, nil
	}
	if err == nil && prev > 0 {
		_, err = e.loadIntact(prev)
	}
	if err != nil {
		return 0, fmt.Errorf("cannot apply with --confirm: the generation a revert would restore is unusable: %w; apply without --confirm, or roll back to an intact generation first", err)
	}
	return prev, nil
}

// restorePending puts back the pending record that was in force before a
// failed apply --confirm (or none); the new reverter then finds no record
// naming its generation and exits.
func (e *Engine) restorePending(pend *state.Pending) {
	err := e.Store.ClearPending()
	if pend != nil {
		err = e.Store.SetPending(pend)
	}
	if err != nil {
		e.warn("restore the pending confirmation record: %v", err)
	}
}

// appliedGeneration is the record of applying c.
func (e *Engine) appliedGeneration(c *Compiled) *state.Generation {
	return &state.Generation{
		Meta: state.Meta{Time: e.now().UTC(), PolicyFile: c.absPath(), Action: state.ActionApply, Summary: c.Summary().Short(),
			Windows: c.windows()},
		Ruleset: c.Ruleset, Hosts: c.hosts(), Policy: c.Source,
	}
}

// RevertLog is where detached reverters log, in the state directory.
func (e *Engine) RevertLog() string { return filepath.Join(e.Store.Dir, "revert.log") }
