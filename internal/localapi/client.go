package localapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/leash-dev/leash/internal/engine"
)

// ErrNoDaemon is Dial's answer when no daemon listens on the socket (it
// does not exist, or a killed daemon left it): work directly.
var ErrNoDaemon = errors.New("no leash daemon runs")

// ErrDaemonGone is what a call fails with when the daemon's connection
// broke before it answered (the daemon stopped or was killed meanwhile):
// whether the operation happened is not known.
var ErrDaemonGone = errors.New("the leash daemon went away before it answered")

// Client is a running daemon's control plane (engine.Control) for one
// command.
type Client struct {
	// Socket is the daemon's socket.
	Socket string
	// Holder names the command in the lock file ("leash apply FILE").
	Holder string
	// Notify says the engine's messages for people (warnings, waits for
	// the lock) as the daemon relays them; nil drops them.
	Notify func(msg string)

	hc *http.Client
}

var _ engine.Control = (*Client)(nil)

// Dial connects to the daemon listening on socket, or fails with
// ErrNoDaemon when none does.
func Dial(socket string) (*Client, error) {
	c, err := net.Dial("unix", socket)
	if err != nil {
		if noDaemon(err) {
			return nil, ErrNoDaemon
		}
		return nil, fmt.Errorf("connect to leash daemon at %s: %w", socket, err)
	}
	c.Close()
	return &Client{Socket: socket, hc: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}}, nil
}

// call sends one request and decodes its reply into res, saying the
// daemon's messages; the operation's error comes back as itself
// (wireError.decode).
func call[T any](ctx context.Context, c *Client, method, path string, req any) (*T, error) {
	var body bytes.Buffer
	if req != nil {
		if err := json.NewEncoder(&body).Encode(req); err != nil {
			return nil, fmt.Errorf("localapi: %w", err)
		}
	}
	hr, err := http.NewRequestWithContext(ctx, method, "http://leash-daemon"+path, &body)
	if err != nil {
		return nil, fmt.Errorf("localapi: %w", err)
	}
	resp, err := c.hc.Do(hr)
	if err != nil {
		if ctx.Err() != nil {
			// Not ctx.Err() itself: that would say "nothing changed"
			// (exit 130), and the daemon may finish the operation.
			return nil, fmt.Errorf("leash daemon: stopped waiting for its answer (%v); it may still finish the operation: see leash status", ctx.Err())
		}
		return nil, fmt.Errorf("%w: %w", ErrDaemonGone, err)
	}
	defer resp.Body.Close()
	var out reply[T]
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("%w: reading its answer: %w", ErrDaemonGone, err)
	}
	for _, n := range out.Notes {
		if c.Notify != nil {
			c.Notify(n)
		}
	}
	if out.Error != nil {
		return nil, out.Error.decode()
	}
	if out.Result == nil {
		return nil, fmt.Errorf("localapi: the daemon answered %s with no result", resp.Status)
	}
	return out.Result, nil
}

func (c *Client) base() request { return request{Holder: c.Holder} }

// Apply implements engine.Control: the compiled policy is applied by the
// daemon.
func (c *Client) Apply(ctx context.Context, comp *engine.Compiled, opt engine.ApplyOptions) (*engine.ApplyResult, error) {
	r, err := call[applyReply](ctx, c, http.MethodPost, pathApply, applyRequest{request: c.base(), Policy: comp.Transfer(), Options: opt})
	if err != nil {
		return nil, err
	}
	return &engine.ApplyResult{Generation: r.Generation, DroppedPending: r.DroppedPending, Pending: r.Pending, RevertsTo: r.RevertsTo, Unchanged: r.Unchanged}, nil
}

// Confirm implements engine.Control.
func (c *Client) Confirm(ctx context.Context) (*engine.ConfirmResult, error) {
	r, err := call[confirmReply](ctx, c, http.MethodPost, pathConfirm, c.base())
	if err != nil {
		return nil, err
	}
	res := &engine.ConfirmResult{Confirmed: r.Confirmed, Pending: r.Pending, Late: r.Late}
	if r.Corrupt != "" {
		res.Corrupt = errors.New(r.Corrupt)
	}
	return res, nil
}

// Rollback implements engine.Control.
func (c *Client) Rollback(ctx context.Context, target int) (*engine.RollbackResult, error) {
	r, err := call[rollbackReply](ctx, c, http.MethodPost, pathRollback, rollbackRequest{request: c.base(), Target: target})
	if err != nil {
		return nil, err
	}
	return &engine.RollbackResult{Target: r.Target, Generation: r.Generation, DroppedPending: r.DroppedPending}, nil
}

// Reset implements engine.Control.
func (c *Client) Reset(ctx context.Context) (int, error) {
	r, err := call[resetReply](ctx, c, http.MethodPost, pathReset, c.base())
	if err != nil {
		return 0, err
	}
	return r.Generation, nil
}

// RevertPending implements engine.Control: the daemon waits for the
// deadline and reverts; logf receives its progress lines at the end.
func (c *Client) RevertPending(ctx context.Context, t engine.RevertTarget, logf func(string, ...any)) (*engine.RevertResult, error) {
	notify := c.Notify
	c.Notify = func(msg string) { logf("%s", msg) }
	defer func() { c.Notify = notify }()
	return call[engine.RevertResult](ctx, c, http.MethodPost, pathRevert, revertRequest{request: c.base(), Target: t})
}

// Reapply implements engine.Control: the daemon recompiles the current
// generation's policy with its own users, groups and resolver (the ones it
// watches), so recompile is not used.
func (c *Client) Reapply(ctx context.Context, _ engine.Recompile) (*engine.ReapplyResult, error) {
	r, err := call[reapplyReply](ctx, c, http.MethodPost, pathReapply, c.base())
	if err != nil {
		return nil, err
	}
	return &engine.ReapplyResult{Nothing: r.Nothing, Source: r.Source, Changed: r.Changed, Generation: r.Generation, Diff: r.Diff, Summary: r.Summary}, nil
}

// Status implements engine.Control; Status.Daemon describes the daemon.
func (c *Client) Status() (*engine.Status, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := call[statusReply](ctx, c, http.MethodGet, pathStatus, nil)
	if err != nil {
		return nil, err
	}
	st := &engine.Status{Report: r.Report, Generation: r.Generation, Interrupted: r.Interrupted, TableExists: r.TableExists,
		Pending: r.Pending, Others: r.Others, Counters: r.Counters, Daemon: r.Daemon, Windows: r.Windows}
	if r.OthersErr != "" {
		st.OthersErr = errors.New(r.OthersErr)
	}
	st.Hosts = r.Hosts
	if r.HostsErr != "" {
		st.HostsErr = errors.New(r.HostsErr)
	}
	if st.Daemon != nil {
		st.Daemon.Socket = c.Socket
	}
	return st, nil
}
