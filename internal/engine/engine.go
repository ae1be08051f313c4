// Package engine is leash's control plane: every change to the kernel's
// `table inet leash` and its record under the state directory goes through
// it. The CLI calls it for one command and renders the results; a daemon can
// call the same API for many.
//
// What it owns:
//
//   - apply (plain, or with a confirmation window and a detached reverter),
//     confirm, rollback, reset, restore (boot), reapply, and the reverter's
//     revert at the deadline;
//   - the two-phase record of every change (state.Begin, change the kernel,
//     state.Commit or state.Abort), so that the state never lags the kernel;
//   - recovery of a change an earlier leash was killed in the middle of,
//     before every locked operation, and the same decision in memory for
//     readers that do not lock (View);
//   - the lock, so that two leash processes never change the kernel or the
//     state at once;
//   - observing the kernel's table for status and drift.
//
// Side effects come in through the Engine's fields: the state store, the
// kernel (Kernel, with an in-memory nft.Fake for tests), the clock
// (clock.Clock, with clock.Fake), the reverter launcher and a sink for
// messages to people. Nothing here prints or parses flags.
package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/leash-dev/leash/internal/clock"
	"github.com/leash-dev/leash/internal/firewalls"
	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/state"
)

// Kernel is leash's table in one network namespace: nft.NSConn in
// production, nft.Fake in tests.
type Kernel interface {
	// Apply atomically replaces leash's table with rs: the kernel holds the
	// old table or the new one, never a mix. On error nothing changed.
	Apply(rs *ruleset.Ruleset) error
	// Read returns leash's table with counters, nil if there is none, or
	// an error wrapping *nft.ForeignError for content leash did not write.
	Read() (*ruleset.Ruleset, error)
	// UpdateElements changes elements of the table's live sets in one
	// transaction: all of ops or none (see nft.Conn.UpdateElements).
	UpdateElements(ops []ruleset.ElementOp) error
	// ReadLive returns the table's live sets with their elements (their
	// remaining lifetime and counters), nil if there is no table.
	ReadLive() (*ruleset.Ruleset, error)
	// UpdateSets changes elements of the table's sets and maps whose
	// declarations stay, in one transaction: all of it or nothing (see
	// nft.Conn.UpdateSets).
	UpdateSets(u *ruleset.ElementsUpdate) error
	// Reset removes leash's table, and only it. Idempotent.
	Reset() error
	// Others reads what else filters packets in the namespace: other
	// tables' base chains and legacy iptables tables. Read-only.
	Others() (firewalls.Others, error)
	Close() error
}

// contextApplier is a Kernel whose Apply can stop, before anything is sent
// to the kernel, when ctx ends (nft.Conn.ApplyContext): a huge table is not
// encoded after Ctrl-C.
type contextApplier interface {
	ApplyContext(ctx context.Context, rs *ruleset.Ruleset) error
}

// applyContext applies rs, stopping early with ctx where k can. Reverts and
// restore call Kernel.Apply instead: they must not be interrupted.
func applyContext(ctx context.Context, k Kernel, rs *ruleset.Ruleset) error {
	if ca, ok := k.(contextApplier); ok {
		return ca.ApplyContext(ctx, rs)
	}
	return k.Apply(rs)
}

// StartReverter starts, detached from the caller, the process that reverts
// pending confirmation p at p.Deadline unless it is confirmed first (it runs
// Engine.RevertPending), and returns its pid. It must not wait for it.
type StartReverter func(p *state.Pending) (pid int, err error)

// Engine carries out kernel changes and their records for one state
// directory and one kernel (network namespace). The zero value is not
// usable: Store, OpenKernel and Clock are required.
type Engine struct {
	Store *state.Store
	// OpenKernel connects to the kernel of the engine's namespace. Each
	// operation opens it when it needs it and closes it when done.
	OpenKernel func() (Kernel, error)
	// Clock is the real time: confirmation deadlines, the reverter's wait.
	Clock clock.Clock
	// Now stamps the records (generation times); nil means Clock.Now.
	Now func() time.Time
	// StartReverter launches the reverter of apply --confirm; nil refuses
	// apply --confirm.
	StartReverter StartReverter
	// ReverterAlive reports whether the reverter with this pid still runs
	// (detach.Running); nil means it cannot be told (assumed alive).
	ReverterAlive func(pid int) bool
	// LockTimeout is how long a locked operation waits for another leash.
	LockTimeout time.Duration
	// Holder names this leash in the lock file ("leash apply policy.yaml").
	Holder string
	// Notify receives messages for people that are not results: warnings
	// ("warning: ...") and what recovery or a wait for the lock did. nil
	// drops them.
	Notify func(msg string)
	// NetNS is the network namespace the engine's kernel is in, recorded
	// in every generation and intent; records of another namespace are
	// refused (nil: the host's).
	NetNS *state.Namespace
	// ForceNetNS acts on another namespace's records anyway (taking the
	// state directory over), saying so.
	ForceNetNS bool
	// CommandLine is how a person runs `leash SUB` against this engine's
	// namespace and state directory, for hints in messages; nil gives
	// "leash SUB".
	CommandLine func(sub string) string

	// hostsGen is the generation RefreshHosts last left in force, its
	// refreshed elements in place (hosts.go). Only RefreshHosts uses it,
	// and one goroutine (the daemon's refresher) calls that.
	hostsGen *state.Generation
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return e.Clock.Now()
}

func (e *Engine) notify(format string, a ...any) {
	if e.Notify != nil {
		e.Notify(fmt.Sprintf(format, a...))
	}
}

func (e *Engine) warn(format string, a ...any) { e.notify("warning: "+format, a...) }

func (e *Engine) command(sub string) string {
	if e.CommandLine != nil {
		return e.CommandLine(sub)
	}
	return "leash " + sub
}

// kernel opens the kernel, saying what leash needs if that fails.
func (e *Engine) kernel() (Kernel, error) {
	k, err := e.OpenKernel()
	if err != nil {
		return nil, fmt.Errorf("connect to nftables: %w (leash needs root or CAP_NET_ADMIN)", err)
	}
	return k, nil
}

// locked runs op holding the state directory's lock, after finishing an
// interrupted change (recover), with the kernel open; atBoot is for
// restore (see recover).
func (e *Engine) locked(ctx context.Context, atBoot bool, op func(k Kernel) error) error {
	lk, err := e.lock(ctx, atBoot)
	if err != nil {
		return err
	}
	defer lk.Unlock()
	k, err := e.kernel()
	if err != nil {
		return err
	}
	defer k.Close()
	return op(k)
}
