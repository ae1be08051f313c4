package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/state"
)

// record is how every operation that changes the kernel (apply, rollback,
// reset, reapply, the reverter, restore's revert) records the change, in
// two phases, so that the state directory never lags the kernel: gen,
// complete, and the intent naming it are written first (state.Begin, which
// gives gen its number); then change(id) changes the kernel; then gen
// becomes current (state.Commit). If change fails it must have left the
// kernel as it was: gen and the intent are removed (state.Abort) and
// change's error is returned as it is, so the caller words it.
// clearsPending says the change replaces a pending confirmation (cleared
// when committed). what names the change for messages ("policy.yaml").
// The caller holds the lock and has recovered. If ctx ends (Ctrl-C,
// SIGTERM) before change begins, nothing is changed and the error wraps
// ErrInterrupted; once change has begun it is finished and recorded.
// Reverts pass a context that never ends: they must not be interrupted.
func (e *Engine) record(ctx context.Context, gen *state.Generation, clearsPending bool, what string, change func(id int) error) (int, error) {
	if err := interrupted(ctx); err != nil {
		return 0, err
	}
	gen.NetNS = e.NetNS
	gen.Orphan = tagOf(gen.Ruleset)
	in, err := e.Store.Begin(gen, clearsPending)
	if err != nil {
		return 0, &notRecordedError{what: what, err: err}
	}
	if err := interrupted(ctx); err != nil {
		e.abort(in)
		return 0, err
	}
	if err := change(in.Generation); err != nil {
		e.abort(in)
		return 0, err
	}
	if err := e.Store.Commit(in); err != nil {
		return in.Generation, fmt.Errorf("%s is enforced, but recording it as generation %d failed (the next leash command that takes the lock records it): %w", what, in.Generation, err)
	}
	return in.Generation, nil
}

// abort removes the record of a change that was not made.
func (e *Engine) abort(in *state.Intent) {
	if err := e.Store.Abort(in); err != nil {
		e.warn("remove the unused generation %d: %v (the next leash command removes it)", in.Generation, err)
	}
}

// ErrInterrupted is wrapped by the error of an operation stopped by its
// context (Ctrl-C, SIGTERM) before it changed anything.
var ErrInterrupted = errors.New("interrupted, nothing changed")

// interrupted is ErrInterrupted (with the context's reason) once ctx ended.
func interrupted(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w (%w)", ErrInterrupted, err)
	}
	return nil
}

// notRecordedError is record's error when the change could not be recorded
// before it was made: the kernel was not touched.
type notRecordedError struct {
	what string
	err  error
}

func (e *notRecordedError) Error() string {
	return fmt.Sprintf("%s: recording the change before making it failed, nothing changed: %v", e.what, e.err)
}

func (e *notRecordedError) Unwrap() error { return e.err }

// replay records, in two phases around enforcing it (record), a new
// generation that puts src's ruleset (and policy) in force again; src nil
// means "no table". m gives the action and note, what names the change in
// messages, and refused words the kernel's refusal (nothing changed).
func (e *Engine) replay(ctx context.Context, k Kernel, src *state.Generation, m state.Meta, what string, refused func(error) error) (int, error) {
	m.Time = e.now().UTC()
	g := &state.Generation{Meta: m}
	if src != nil {
		g.Source, g.PolicyFile, g.Summary = src.ID, src.PolicyFile, src.Summary
		g.Ruleset, g.Hosts, g.Policy = src.Ruleset, src.Hosts, src.Policy
	}
	return e.record(ctx, g, true, what, func(int) error {
		if err := e.enforce(k, g.Ruleset); err != nil {
			return refused(err)
		}
		return nil
	})
}

// loadIntact reads generation id and checks that its ruleset is loadable. A
// generation that does not exist gives an error wrapping os.ErrNotExist, a
// damaged one a *state.CorruptError naming the file.
func (e *Engine) loadIntact(id int) (*state.Generation, error) {
	gen, err := e.Store.Load(id)
	if err != nil {
		return nil, err
	}
	if gen.Ruleset != nil {
		if err := ruleset.Validate(gen.Ruleset); err != nil {
			return nil, &state.CorruptError{Path: e.Store.GenerationFile(id), Err: err}
		}
	}
	return gen, nil
}

// prune drops old generations after a save; a failure only warns, since
// the change itself is done and recorded.
func (e *Engine) prune() {
	if _, err := e.Store.Prune(); err != nil {
		e.warn("%v", err)
	}
}

// pendingGeneration is the generation awaiting confirmation (0: none, or
// the record is corrupt), read before a change that replaces it: the
// change's commit clears the record, a corrupt one too.
func (e *Engine) pendingGeneration() int {
	p, err := e.Store.Pending()
	if err != nil || p == nil {
		return 0
	}
	return p.Generation
}
