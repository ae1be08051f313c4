package resolve

import (
	"errors"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// serverOptions say how a test server answers.
type serverOptions struct {
	// zone maps names (fully qualified) to records; other names are
	// NXDOMAIN, except "fail.test." which is SERVFAIL.
	zone map[string][]string
	// dropFirst ignores the first UDP datagram of every question.
	dropFirst bool
	// truncate answers every UDP query with TC set and no records.
	truncate bool
	// servfail answers every query with SERVFAIL.
	servfail bool
}

// testServer is a DNS server on 127.0.0.1, UDP and TCP on one random port.
type testServer struct {
	addr string
	mu   sync.Mutex
	// udp and tcp count the queries received, seen the UDP datagrams per
	// question.
	udp, tcp int
	seen     map[string]int
}

// counts returns how many UDP and TCP queries the server received.
func (s *testServer) counts() (udp, tcp int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.udp, s.tcp
}

// startServer starts a test server, stopped when the test ends.
func startServer(t *testing.T, opt serverOptions) *testServer {
	t.Helper()
	pc, ln := listenBoth(t)
	s := &testServer{addr: pc.LocalAddr().String(), seen: map[string]int{}}
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		if resp := s.reply(opt, w.RemoteAddr().Network(), req); resp != nil {
			_ = w.WriteMsg(resp)
		}
	})
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: handler}, {Listener: ln, Handler: handler}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { _ = srv.ActivateAndServe() }()
		<-started
		t.Cleanup(func() { _ = srv.Shutdown() })
	}
	return s
}

// listenBoth binds UDP and TCP on the same random port of 127.0.0.1
// (a few tries: the TCP port may be taken).
func listenBoth(t *testing.T) (net.PacketConn, net.Listener) {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln
		}
		pc.Close()
	}
	t.Fatal("no port free for both UDP and TCP on 127.0.0.1")
	return nil, nil
}

// reply builds the answer to req received over network, or nil to drop it.
func (s *testServer) reply(opt serverOptions, network string, req *dns.Msg) *dns.Msg {
	q := req.Question[0]
	s.mu.Lock()
	udp := network == "udp"
	if udp {
		s.udp++
	} else {
		s.tcp++
	}
	key := q.Name + "/" + dns.TypeToString[q.Qtype]
	if udp {
		s.seen[key]++
	}
	first := s.seen[key] == 1
	s.mu.Unlock()
	resp := new(dns.Msg)
	resp.SetReply(req)
	rrs, ok := opt.zone[q.Name]
	switch {
	case udp && opt.dropFirst && first:
		return nil
	case opt.servfail || q.Name == "fail.test.":
		resp.Rcode = dns.RcodeServerFailure
		return resp
	case udp && opt.truncate:
		resp.Truncated = true
		return resp
	case !ok:
		resp.Rcode = dns.RcodeNameError
	}
	for _, text := range rrs {
		if rr, err := dns.NewRR(text); err == nil && rr.Header().Rrtype == q.Qtype {
			resp.Answer = append(resp.Answer, rr)
		}
	}
	return resp
}

// deadServer is a UDP socket on 127.0.0.1 that never answers. Its drain
// function counts the datagrams received so far.
func deadServer(t *testing.T) (addr string, drain func() int) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	total := 0
	return pc.LocalAddr().String(), func() int {
		buf := make([]byte, 1500)
		for {
			_ = pc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			if _, _, err := pc.ReadFrom(buf); err != nil {
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Error(err)
				}
				return total
			}
			total++
		}
	}
}
