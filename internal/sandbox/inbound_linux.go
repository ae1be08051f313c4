package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// inboundMessage is what the peer sends and expects back.
var inboundMessage = []byte("leash inbound\n")

// Serve runs one inbound exchange (see Inbound): a server process with in's
// uid, gid and groups, born in the client namespace, and a connection to it
// from the peer. The Outcome is the peer's: Connected when its message came
// back, else how the attempt failed; the credentials are the server's.
func (s *Sandbox) Serve(ctx context.Context, in Inbound) (Outcome, error) {
	in, err := in.withDefaults()
	if err != nil {
		return Outcome{}, err
	}
	ctx, done, err := s.startProcess(ctx, "Serve", in.Timeout)
	if err != nil {
		return Outcome{}, err
	}
	defer done()
	out, err := s.serveOnce(ctx, in)
	if err != nil {
		return Outcome{}, fmt.Errorf("sandbox: inbound %s from %v to port %d of uid %d: %w", in.Proto, in.Remote, in.Port, in.UID, err)
	}
	s.log.Debug("sandbox: inbound", "proto", in.Proto, "from", in.Remote, "port", in.Port, "uid", in.UID, "outcome", out.String())
	return out, nil
}

// serveOnce starts the server, waits until it listens, connects from the
// peer, and stops the server.
func (s *Sandbox) serveOnce(ctx context.Context, in Inbound) (Outcome, error) {
	argv := append(append([]string{}, s.probeArgv...), in.serveArgs()...)
	cmd := s.probeProcess(ctx, argv, in.UID, in.GID, in.Groups)
	r, w, err := os.Pipe()
	if err != nil {
		return Outcome{}, err
	}
	defer r.Close()
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = w, &stderr
	err = s.client.Do(cmd.Start)
	w.Close()
	if err != nil {
		return Outcome{}, fmt.Errorf("start %s: %w", argv[0], err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()

	l, err := readListening(ctx, r)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return Outcome{}, fmt.Errorf("server process: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	out, err := s.connectIn(in)
	out.UID, out.GID, out.Groups = l.UID, l.GID, l.Groups
	return out, err
}

// readListening reads the server's first line, bounded by ctx.
func readListening(ctx context.Context, r *os.File) (listening, error) {
	type line struct {
		b   []byte
		err error
	}
	got := make(chan line, 1)
	go func() {
		b, err := bufio.NewReader(r).ReadBytes('\n')
		got <- line{b, err}
	}()
	select {
	case <-ctx.Done():
		r.Close() // ends the reader
		return listening{}, fmt.Errorf("not listening in time: %w", context.Cause(ctx))
	case ln := <-got:
		var l listening
		if ln.err != nil {
			return l, fmt.Errorf("no listening line: %w", ln.err)
		}
		if err := json.Unmarshal(ln.b, &l); err != nil || !l.Listening {
			return l, fmt.Errorf("bad listening line %q", ln.b)
		}
		return l, nil
	}
}

// connectIn makes the peer's side of the exchange: from Remote:
// InboundSourcePort to the client's address and in.Port, send
// inboundMessage, wait for it to come back. The socket is closed abortively
// (RST), so no TIME_WAIT is left to trouble the next case.
func (s *Sandbox) connectIn(in Inbound) (Outcome, error) {
	stype := unix.SOCK_STREAM | unix.SOCK_NONBLOCK
	if in.Proto == UDP {
		stype = unix.SOCK_DGRAM
	}
	fd := -1
	err := s.peerNS.Do(func() error {
		var err error
		fd, err = unix.Socket(family(in.Remote), stype|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("socket: %w", err)
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			return fmt.Errorf("SO_REUSEADDR: %w", err)
		}
		if err := unix.Bind(fd, sockaddr(in.Remote, InboundSourcePort)); err != nil {
			return fmt.Errorf("bind %v: %w", netip.AddrPortFrom(in.Remote, InboundSourcePort), err)
		}
		return nil
	})
	if fd >= 0 {
		defer closeAbortive(fd)
	}
	if err != nil {
		return Outcome{}, err
	}
	start := time.Now()
	deadline := start.Add(in.Timeout)
	err = unix.Connect(fd, sockaddr(listenAddr(in.Remote), in.Port))
	if err == unix.EINPROGRESS {
		err = awaitConnect(fd, deadline)
	}
	if err != nil {
		return verdict(err, time.Since(start), "connect")
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		return Outcome{}, err
	}
	if _, err := unix.Write(fd, inboundMessage); err != nil {
		return verdict(err, time.Since(start), "send")
	}
	return verdict(awaitReply(fd, deadline, isData), time.Since(start), "receive")
}

// isData accepts any non-empty read (a TCP end of stream is not an answer).
func isData(b []byte) bool { return len(b) > 0 }

// closeAbortive closes fd with SO_LINGER 0: a TCP socket sends RST and
// leaves no TIME_WAIT behind.
func closeAbortive(fd int) {
	unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
	unix.Close(fd)
}
