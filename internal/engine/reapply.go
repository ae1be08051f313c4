package engine

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/leash-dev/leash/internal/drift"
	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/state"
)

// ReapplyResult is what Reapply did.
type ReapplyResult struct {
	// Nothing says why there was nothing to reapply ("" otherwise).
	Nothing string `json:"-"`
	// Source is the generation whose policy was recompiled.
	Source *state.Meta `json:"-"`
	// Changed: the recompiled table differed and was applied as
	// Generation; Diff is the difference, Compiled what was applied.
	Changed    bool      `json:"changed"`
	Generation int       `json:"generation"`
	Diff       string    `json:"diff,omitempty"`
	Compiled   *Compiled `json:"-"`
	// Summary is the applied table's short summary (Changed only).
	Summary string `json:"-"`
}

// Recompile compiles a stored generation's policy again, with the users,
// groups and hostnames of today.
type Recompile func(ctx context.Context, gen *state.Generation) (*Compiled, error)

// Reapply recompiles the current generation's stored policy (recompile)
// and, if the table differs from the stored one, applies it and records a
// new generation ("reapply of N"); otherwise it changes nothing. It
// compiles before taking the lock (DNS may be slow), and applies only if
// the generation is still current then. A pending confirmation stays
// pending. Errors of the policy (a user it names was deleted) come back
// from recompile as they are, with nothing changed.
func (e *Engine) Reapply(ctx context.Context, recompile Recompile) (*ReapplyResult, error) {
	if _, err := os.Stat(e.Store.Dir); errors.Is(err, os.ErrNotExist) {
		return &ReapplyResult{Nothing: fmt.Sprintf("%s does not exist (leash was never applied here)", e.Store.Dir)}, nil
	} else if err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	cur, _, err := e.View() // a change a killed leash left half-recorded counts if the kernel holds it
	if errors.Is(err, state.ErrNone) {
		return &ReapplyResult{Nothing: fmt.Sprintf("no generation was ever applied in %s", e.Store.Dir)}, nil
	}
	if err != nil {
		return nil, err
	}
	if cur.Ruleset == nil || len(cur.Policy) == 0 {
		return &ReapplyResult{Nothing: fmt.Sprintf("%s has no policy", Describe(cur.Meta))}, nil
	}
	c, err := recompile(ctx, cur)
	if err != nil {
		return nil, err
	}
	lk, err := e.lock(ctx, false)
	if err != nil {
		return nil, err
	}
	defer lk.Unlock()
	return e.reapply(ctx, cur, c)
}

func (e *Engine) reapply(ctx context.Context, cur *state.Generation, c *Compiled) (*ReapplyResult, error) {
	if now, err := e.Store.CurrentID(); err != nil || now != cur.ID {
		res := &ReapplyResult{Nothing: fmt.Sprintf("generation %d is no longer current (another leash changed it meanwhile)", cur.ID)}
		return res, err
	}
	same, next := orphanTags(tagOf(cur.Ruleset), c) // orphantag.go
	res := &ReapplyResult{Source: &cur.Meta, Generation: cur.ID, Compiled: same, Summary: c.Summary().Short()}
	diff := func(c *Compiled) string {
		return drift.TableDiff(fmt.Sprintf("generation %d", cur.ID), cur.Ruleset, "recompiled now", c.Ruleset)
	}
	if res.Diff = diff(same); res.Diff == "" {
		return res, nil
	}
	c = next // a change: the next orphan tag
	res.Compiled, res.Diff = c, diff(c)
	k, err := e.kernel()
	if err != nil {
		return nil, err
	}
	defer k.Close()
	gen := &state.Generation{
		Meta: state.Meta{Time: e.now().UTC(), PolicyFile: cur.PolicyFile, Action: state.ActionReapply, Source: cur.ID,
			Note: fmt.Sprintf("reapply of %d", cur.ID), Summary: c.Summary().Short(), Windows: c.windows()},
		Ruleset: c.Ruleset, Hosts: c.hosts(), Policy: cur.Policy,
	}
	table := e.prepare(ctx, k, c.Ruleset) // prepare.go
	defer table.close()
	id, err := e.record(ctx, gen, false, "the recompiled table", func(int) error {
		if err := table.sendTable(); err != nil {
			if ierr := interrupted(ctx); ierr != nil {
				return ierr
			}
			return fmt.Errorf("reapply of generation %d: the kernel refused table inet %s, nothing changed: %w", cur.ID, ruleset.TableName, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	e.prune()
	res.Changed, res.Generation = true, id
	return res, nil
}
