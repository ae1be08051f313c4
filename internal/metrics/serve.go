package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"
)

// Path is where the metrics are served.
const Path = "/metrics"

// Listen opens the metrics address: "unix:PATH" (a unix socket, mode
// 0600, a stale socket file replaced) or HOST:PORT on a loopback address
// (127.0.0.1:9425, [::1]:9425, localhost:9425). Other addresses are
// refused: the metrics name the policies and how much each one allows and
// denies, so they stay on the host; let a local proxy or agent with
// authentication publish them.
func Listen(addr string) (net.Listener, error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if path == "" || !strings.HasPrefix(path, "/") {
			return nil, fmt.Errorf("%w %q: a unix socket needs an absolute path (unix:/run/leash/metrics.sock)", errAddr, addr)
		}
		if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
			os.Remove(path) // a previous daemon's socket
		}
		l, err := net.Listen("unix", path)
		if err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
		if err := os.Chmod(path, 0o600); err != nil {
			l.Close()
			return nil, fmt.Errorf("metrics: %w", err)
		}
		return l, nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("%w %q: want HOST:PORT on loopback (127.0.0.1:9425) or unix:PATH: %v", errAddr, addr, err)
	}
	if ip, err := netip.ParseAddr(host); host != "localhost" && (err != nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("%w %q: only a loopback address (127.0.0.1, ::1, localhost) or a unix socket: the metrics name the policies and their traffic; publish them through a local agent or proxy with authentication", errAddr, addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return l, nil
}

// Serve serves the metrics at Path on l until ctx ends, then closes l.
func (m *Metrics) Serve(ctx context.Context, l net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle(Path, m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(shut)
	}()
	err := srv.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	<-done
	return err
}
