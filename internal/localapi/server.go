// Package localapi is how the command line talks to a running leash
// daemon: HTTP and JSON over a unix socket in the state directory
// (SocketPath), in the manner of tailscale's LocalAPI. While the daemon
// runs it owns `table inet leash` (no other process may change it), so
// apply, confirm, rollback, reset, the reverter and status go through
// it: the Client is an engine.Control, and the Server calls the daemon's
// engine.Engine with the same arguments. Results, errors (policy errors
// with their FILE:LINE:COL, the sentinels that decide exit statuses) and
// the engine's messages for people cross the socket intact.
//
// Only root may call: the socket is mode 0600, and the server checks
// every connection's peer credentials (SO_PEERCRED) before it serves a
// request.
package localapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/leash-dev/leash/internal/engine"
)

// SocketName is the socket's name in the state directory.
const SocketName = "daemon.sock"

// SocketPath is the LocalAPI socket of the daemon that works on stateDir.
func SocketPath(stateDir string) string { return filepath.Join(stateDir, SocketName) }

// Routes.
const (
	pathApply    = "/v0/apply"
	pathConfirm  = "/v0/confirm"
	pathRollback = "/v0/rollback"
	pathReset    = "/v0/reset"
	pathRevert   = "/v0/revert-pending"
	pathStatus   = "/v0/status"
	pathReapply  = "/v0/reapply"
)

// Server serves the daemon's engine to the command line.
type Server struct {
	// Engine is the daemon's (its kernel is the owning connection).
	Engine *engine.Engine
	// Daemon describes the daemon for status; Owns, when set, tells
	// whether it owns the table at the time of the status.
	Daemon engine.Daemon
	Owns   func() bool
	// Recompile is how the daemon compiles a stored policy (its users,
	// groups and resolver): a reapply through the socket uses it. Nil:
	// reapply is refused.
	Recompile engine.Recompile
	// AllowUID says which peers may call; nil: uid 0 only.
	AllowUID func(uid uint32) bool
	Log      *slog.Logger
}

// Serve answers requests on ln until ctx ends, then closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			uid, err := peerUID(c)
			return context.WithValue(ctx, peerKey{}, peer{uid: uid, err: err})
		},
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("localapi: %w", err)
	}
	return nil
}

type peerKey struct{}

type peer struct {
	uid uint32
	err error
}

// Handler is the API: one route per operation, each behind the peer
// check.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+pathApply, func(w http.ResponseWriter, r *http.Request) {
		var req applyRequest
		serve(s, w, r, &req, &req.request, func(e *engine.Engine, _ *notes) (*applyReply, error) {
			res, err := e.Apply(r.Context(), req.Policy.Compiled(), req.Options)
			if err != nil {
				return nil, err
			}
			return &applyReply{Generation: res.Generation, DroppedPending: res.DroppedPending, Pending: res.Pending, RevertsTo: res.RevertsTo, Unchanged: res.Unchanged}, nil
		})
	})
	mux.HandleFunc("POST "+pathConfirm, func(w http.ResponseWriter, r *http.Request) {
		var req request
		serve(s, w, r, &req, &req, func(e *engine.Engine, _ *notes) (*confirmReply, error) {
			res, err := e.Confirm(r.Context())
			if err != nil {
				return nil, err
			}
			out := &confirmReply{Confirmed: res.Confirmed, Pending: res.Pending, Late: res.Late}
			if res.Corrupt != nil {
				out.Corrupt = res.Corrupt.Error()
			}
			return out, nil
		})
	})
	mux.HandleFunc("POST "+pathRollback, func(w http.ResponseWriter, r *http.Request) {
		var req rollbackRequest
		serve(s, w, r, &req, &req.request, func(e *engine.Engine, _ *notes) (*rollbackReply, error) {
			res, err := e.Rollback(r.Context(), req.Target)
			if err != nil {
				return nil, err
			}
			return &rollbackReply{Target: res.Target, Generation: res.Generation, DroppedPending: res.DroppedPending}, nil
		})
	})
	mux.HandleFunc("POST "+pathReset, func(w http.ResponseWriter, r *http.Request) {
		var req request
		serve(s, w, r, &req, &req, func(e *engine.Engine, _ *notes) (*resetReply, error) {
			id, err := e.Reset(r.Context())
			if err != nil {
				return nil, err
			}
			return &resetReply{Generation: id}, nil
		})
	})
	mux.HandleFunc("POST "+pathRevert, func(w http.ResponseWriter, r *http.Request) {
		var req revertRequest
		serve(s, w, r, &req, &req.request, func(e *engine.Engine, n *notes) (*engine.RevertResult, error) {
			// The reverter must not be stopped by its own connection
			// going away: the revert is the safety net.
			return e.RevertPending(context.WithoutCancel(r.Context()), req.Target, func(format string, a ...any) {
				msg := fmt.Sprintf(format, a...)
				s.Log.Info("reverter: "+msg, "generation", req.Target.Generation)
				n.add(msg)
			})
		})
	})
	mux.HandleFunc("POST "+pathReapply, func(w http.ResponseWriter, r *http.Request) {
		var req request
		serve(s, w, r, &req, &req, func(e *engine.Engine, _ *notes) (*reapplyReply, error) {
			if s.Recompile == nil {
				return nil, errors.New("leash daemon: this daemon cannot reapply (no compiler configured)")
			}
			res, err := e.Reapply(r.Context(), s.Recompile)
			if err != nil {
				return nil, err
			}
			return &reapplyReply{Nothing: res.Nothing, Source: res.Source, Changed: res.Changed, Generation: res.Generation, Diff: res.Diff, Summary: res.Summary}, nil
		})
	})
	mux.HandleFunc("GET "+pathStatus, func(w http.ResponseWriter, r *http.Request) {
		serve(s, w, r, nil, nil, func(e *engine.Engine, _ *notes) (*statusReply, error) {
			st, err := e.Status()
			if err != nil {
				return nil, err
			}
			d := s.Daemon
			if s.Owns != nil {
				d.OwnsTable = s.Owns()
			}
			out := &statusReply{Report: st.Report, Generation: st.Generation, Interrupted: st.Interrupted, TableExists: st.TableExists,
				Pending: st.Pending, Others: st.Others, Counters: st.Counters, Daemon: &d, Windows: st.Windows}
			if st.OthersErr != nil {
				out.OthersErr = st.OthersErr.Error()
			}
			out.Hosts = st.Hosts
			if st.HostsErr != nil {
				out.HostsErr = st.HostsErr.Error()
			}
			return out, nil
		})
	})
	return mux
}

// notes gathers the engine's messages for people during one request.
type notes struct {
	mu   sync.Mutex
	msgs []string
}

func (n *notes) add(msg string) {
	n.mu.Lock()
	n.msgs = append(n.msgs, msg)
	n.mu.Unlock()
}

// serve checks the peer, decodes the request into req (nil: none; base is
// its common part), runs op with a copy of the daemon's engine that names
// the caller in the lock and gathers its messages, and writes the reply.
func serve[T any](s *Server, w http.ResponseWriter, r *http.Request, req any, base *request, op func(e *engine.Engine, n *notes) (*T, error)) {
	p, _ := r.Context().Value(peerKey{}).(peer)
	allow := s.AllowUID
	if allow == nil {
		allow = func(uid uint32) bool { return uid == 0 }
	}
	if p.err != nil || !allow(p.uid) {
		s.Log.Warn("localapi: refused a caller", "uid", p.uid, "err", p.err)
		writeJSON(w, http.StatusForbidden, reply[T]{Error: &wireError{Message: "leash daemon: only root may use its socket"}})
		return
	}
	if req != nil {
		if err := json.NewDecoder(r.Body).Decode(req); err != nil {
			writeJSON(w, http.StatusBadRequest, reply[T]{Error: &wireError{Message: "leash daemon: bad request: " + err.Error()}})
			return
		}
	}
	n := &notes{}
	e := *s.Engine
	e.Holder = "leash daemon"
	if base != nil && base.Holder != "" {
		e.Holder = base.Holder + " (through leash daemon)"
	}
	e.Notify = func(msg string) {
		n.add(msg)
		if s.Engine.Notify != nil {
			s.Engine.Notify(msg)
		}
	}
	if r.Method != http.MethodGet {
		s.Log.Info("localapi: request", "op", r.URL.Path, "holder", e.Holder)
	}
	res, err := op(&e, n)
	n.mu.Lock()
	out := reply[T]{Result: res, Error: encodeError(err), Notes: n.msgs}
	n.mu.Unlock()
	if err != nil {
		out.Result = nil
	}
	writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
