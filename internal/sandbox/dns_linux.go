package sandbox

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/miekg/dns"
)

// dnsPort is where the peer's DNS server listens, on both peer addresses.
const dnsPort = 53

// shutdownTimeout bounds stopping one DNS server.
const shutdownTimeout = 2 * time.Second

// startDNS serves z over UDP and TCP on [peerAddr]:53 for both address
// families, with sockets created inside the peer namespace, and registers the
// servers with pr so that pr.close stops them.
func startDNS(pr *peer, z zone) error {
	for _, addr := range []netip.Addr{peerAddr4(), peerAddr6()} {
		ap := netip.AddrPortFrom(addr, dnsPort)
		for _, proto := range []string{UDP, TCP} {
			srv, err := listenDNS(pr, proto, ap, z)
			if err != nil {
				return fmt.Errorf("sandbox: DNS server %s %v: %w", proto, ap, err)
			}
			if err := serveDNS(srv); err != nil {
				closeSocket(srv)
				return fmt.Errorf("sandbox: DNS server %s %v: %w", proto, ap, err)
			}
			pr.register(proto, ap, closerFunc(func() error {
				ctx, cancel := shutdownCtx()
				defer cancel()
				return srv.ShutdownContext(ctx)
			}))
		}
	}
	return nil
}

// listenDNS creates the socket of one DNS server inside the peer namespace.
func listenDNS(pr *peer, proto string, ap netip.AddrPort, z zone) (*dns.Server, error) {
	srv := &dns.Server{Handler: z}
	err := pr.ns.Do(func() error {
		var err error
		if proto == UDP {
			srv.PacketConn, err = net.ListenPacket("udp", ap.String())
		} else {
			srv.Listener, err = net.Listen("tcp", ap.String())
		}
		return err
	})
	return srv, err
}

// serveDNS starts srv on a goroutine and waits until it is serving, so that
// a later Shutdown is never lost.
func serveDNS(srv *dns.Server) error {
	started := make(chan struct{})
	failed := make(chan error, 1)
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { failed <- srv.ActivateAndServe() }()
	select {
	case <-started:
		return nil
	case err := <-failed:
		return err
	case <-time.After(shutdownTimeout):
		return fmt.Errorf("not serving after %v", shutdownTimeout)
	}
}

// closeSocket closes the socket of a DNS server that failed to start.
func closeSocket(srv *dns.Server) {
	if srv.PacketConn != nil {
		srv.PacketConn.Close()
	}
	if srv.Listener != nil {
		srv.Listener.Close()
	}
}

// shutdownCtx is the bound on stopping one DNS server.
func shutdownCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), shutdownTimeout)
}
