package localapi

import (
	"context"
	"errors"

	"github.com/leash-dev/leash/internal/drift"
	"github.com/leash-dev/leash/internal/engine"
	"github.com/leash-dev/leash/internal/firewalls"
	"github.com/leash-dev/leash/internal/nft"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/state"
)

// The requests and replies, one JSON object each. Every reply is a
// reply[T]: the operation's result, or its error, and the messages for
// people the engine said meanwhile (Engine.Notify: warnings, waits for the
// lock, recovery), which the client says in turn.

// request is what every call carries besides its own arguments.
type request struct {
	// Holder names the command in the lock file ("leash apply FILE").
	Holder string `json:"holder"`
}

type applyRequest struct {
	request
	// The compiled policy: the command line compiles (so that its users,
	// groups and DNS are the ones it was given) and the daemon applies.
	Policy  engine.Transfer     `json:"policy"`
	Options engine.ApplyOptions `json:"options"`
}

type rollbackRequest struct {
	request
	Target int `json:"target"`
}

type revertRequest struct {
	request
	Target engine.RevertTarget `json:"target"`
}

type applyReply struct {
	Generation     int            `json:"generation"`
	DroppedPending int            `json:"dropped_pending,omitempty"`
	Pending        *state.Pending `json:"pending,omitempty"`
	RevertsTo      *state.Meta    `json:"reverts_to,omitempty"`
	Unchanged      bool           `json:"unchanged,omitempty"`
}

type confirmReply struct {
	Confirmed int            `json:"confirmed"`
	Pending   *state.Pending `json:"pending,omitempty"`
	Late      bool           `json:"late,omitempty"`
	Corrupt   string         `json:"corrupt,omitempty"`
}

type rollbackReply struct {
	Target         *state.Meta `json:"target"`
	Generation     int         `json:"generation"`
	DroppedPending int         `json:"dropped_pending,omitempty"`
}

// reapplyReply is engine.ReapplyResult without the compiled table.
type reapplyReply struct {
	Nothing    string      `json:"nothing,omitempty"`
	Source     *state.Meta `json:"source,omitempty"`
	Changed    bool        `json:"changed"`
	Generation int         `json:"generation"`
	Diff       string      `json:"diff,omitempty"`
	Summary    string      `json:"summary,omitempty"`
}

type resetReply struct {
	Generation int `json:"generation"`
}

type statusReply struct {
	Report      drift.Report          `json:"report"`
	Generation  *state.Generation     `json:"generation,omitempty"`
	Interrupted *engine.Interrupted   `json:"interrupted,omitempty"`
	TableExists bool                  `json:"table_exists"`
	Pending     *engine.PendingReport `json:"pending,omitempty"`
	Others      *firewalls.Others     `json:"others,omitempty"`
	OthersErr   string                `json:"others_error,omitempty"`
	Counters    []drift.ChainCounters `json:"counters,omitempty"`
	Hosts       *state.HostsRecord    `json:"hosts,omitempty"`
	HostsErr    string                `json:"hosts_error,omitempty"`
	Daemon      *engine.Daemon        `json:"daemon"`
	Windows     *engine.WindowsStatus `json:"windows,omitempty"`
}

type reply[T any] struct {
	Result *T         `json:"result,omitempty"`
	Error  *wireError `json:"error,omitempty"`
	Notes  []string   `json:"notes,omitempty"`
}

// wireError is an error as it crosses the socket: its message, the
// sentinel errors it wraps (by name) and a policy's errors, so that the
// command line's exit status and report are the same as in direct mode
// (FILE:LINE:COL errors and exit 2, exit 130 when interrupted before
// anything changed).
type wireError struct {
	Message string          `json:"message"`
	Is      []string        `json:"is,omitempty"`
	Policy  []*policy.Error `json:"policy,omitempty"`
}

// sentinels are the errors the command line tells apart, by wire name.
var sentinels = map[string]error{
	"interrupted":     engine.ErrInterrupted,
	"canceled":        context.Canceled,
	"nothing-pending": engine.ErrNothingPending,
	"not-owner":       nft.ErrNotOwner,
	"no-generation":   state.ErrNone,
}

func encodeError(err error) *wireError {
	if err == nil {
		return nil
	}
	w := &wireError{Message: err.Error()}
	var pl policy.ErrorList
	if errors.As(err, &pl) {
		w.Policy = pl
	}
	for name, s := range sentinels {
		if errors.Is(err, s) {
			w.Is = append(w.Is, name)
		}
	}
	return w
}

func (w *wireError) decode() error {
	if len(w.Policy) > 0 {
		return policy.ErrorList(w.Policy)
	}
	e := &remoteError{msg: w.Message}
	for _, name := range w.Is {
		if s, ok := sentinels[name]; ok {
			e.is = append(e.is, s)
		}
	}
	return e
}

// remoteError is the daemon's error on the command line's side: its
// message, and errors.Is for the sentinels it wrapped.
type remoteError struct {
	msg string
	is  []error
}

func (e *remoteError) Error() string   { return e.msg }
func (e *remoteError) Unwrap() []error { return e.is }
