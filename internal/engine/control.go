package engine

import (
	"context"
	"time"
)

// Control is what the commands that change the kernel (apply, confirm,
// rollback, reset, the reverter) and status ask of leash's control plane.
// *Engine is it in direct mode; while leash daemon runs (it owns the
// table, so no other process may change it) the command line uses the
// daemon's, over its LocalAPI socket (localapi.Client), with the same
// results and errors.
type Control interface {
	Apply(ctx context.Context, c *Compiled, opt ApplyOptions) (*ApplyResult, error)
	Confirm(ctx context.Context) (*ConfirmResult, error)
	Rollback(ctx context.Context, target int) (*RollbackResult, error)
	Reset(ctx context.Context) (int, error)
	RevertPending(ctx context.Context, t RevertTarget, logf func(string, ...any)) (*RevertResult, error)
	// Reapply recompiles the current generation's policy with recompile;
	// through the daemon, the daemon's own (its users, groups and
	// resolver) is used instead.
	Reapply(ctx context.Context, recompile Recompile) (*ReapplyResult, error)
	Status() (*Status, error)
}

var _ Control = (*Engine)(nil)

// Daemon describes the leash daemon that answered a status (Status.Daemon).
type Daemon struct {
	PID   int       `json:"pid"`
	Since time.Time `json:"since"`
	// OwnsTable: the daemon's socket owns table inet leash (false with
	// --no-own, or while another owner holds it).
	OwnsTable bool `json:"owns_table"`
	// Socket is the LocalAPI socket the command line reached it on.
	Socket string `json:"socket"`
}
