package sandbox

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"

	"github.com/leash-dev/leash/internal/netns"
)

// peer runs the servers that answer the client's traffic. Their sockets are
// created inside the peer namespace (a socket keeps the namespace it was born
// in); the goroutines serving them are ordinary goroutines of this process.
//
// "Any port" works just in time: before each TCP or UDP probe, ensure binds a
// listener to exactly the probe's destination address and port (every
// address is local to the peer, see configure) and keeps it until close. A
// TCP listener accepts and closes; a UDP socket echoes each datagram, from
// the address the client sent to. Exact binds mean replies carry the right
// source without NAT, conntrack or nftables in the peer.
type peer struct {
	ns  *netns.NS
	log *slog.Logger

	mu      sync.Mutex
	closed  bool
	servers map[string]io.Closer // by "proto addr:port"
	wg      sync.WaitGroup       // serving goroutines
}

func newPeer(ns *netns.NS, log *slog.Logger) *peer {
	return &peer{ns: ns, log: log, servers: map[string]io.Closer{}}
}

// ensure makes sure something answers proto (TCP or UDP) at dst. It is safe
// for concurrent use and a no-op when a server (or the DNS server) is there.
func (pr *peer) ensure(proto string, dst netip.AddrPort) error {
	key := proto + " " + dst.String()
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.closed {
		return errors.New("sandbox: peer is closed")
	}
	if pr.servers[key] != nil {
		return nil
	}
	var srv io.Closer
	err := pr.ns.Do(func() error {
		var err error
		switch proto {
		case TCP:
			srv, err = net.Listen("tcp", dst.String())
		case UDP:
			srv, err = net.ListenPacket("udp", dst.String())
		default:
			err = fmt.Errorf("no server for protocol %q", proto)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("sandbox: peer listener %s %v: %w", proto, dst, err)
	}
	pr.servers[key] = srv
	pr.wg.Add(1)
	go func() {
		defer pr.wg.Done()
		switch s := srv.(type) {
		case net.Listener:
			acceptAndClose(s)
		case net.PacketConn:
			echo(s)
		}
	}()
	pr.log.Debug("sandbox: peer listening", "proto", proto, "addr", dst)
	return nil
}

// register adds a server started elsewhere (the DNS server) under key, so
// close stops it and ensure leaves its address alone.
func (pr *peer) register(proto string, dst netip.AddrPort, srv io.Closer) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.servers[proto+" "+dst.String()] = srv
}

// close stops every server and waits for their goroutines.
func (pr *peer) close() error {
	pr.mu.Lock()
	pr.closed = true
	var errs []error
	for key, srv := range pr.servers {
		if err := srv.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, fmt.Errorf("sandbox: stop peer server %s: %w", key, err))
		}
	}
	clear(pr.servers)
	pr.mu.Unlock()
	pr.wg.Wait()
	return errors.Join(errs...)
}

// acceptAndClose completes every handshake and hangs up, until l is closed.
func acceptAndClose(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}

// echo sends every datagram back to its sender, until pc is closed.
func echo(pc net.PacketConn) {
	buf := make([]byte, 64<<10)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		pc.WriteTo(buf[:n], from)
	}
}

// closerFunc adapts a function to io.Closer.
type closerFunc func() error

func (f closerFunc) Close() error { return f() }
