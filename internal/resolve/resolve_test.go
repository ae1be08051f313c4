package resolve

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
)

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func TestStatic(t *testing.T) {
	r := Static(map[string][]netip.Addr{
		"Mail.Example.com.": addrs("192.0.2.25", "2001:db8::25", "192.0.2.25"),
	})
	tests := []struct {
		name    string
		host    string
		want    []netip.Addr
		wantErr bool
	}{
		{name: "exact case-insensitive", host: "mail.example.com", want: addrs("192.0.2.25", "2001:db8::25")},
		{name: "trailing dot", host: "MAIL.example.com.", want: addrs("192.0.2.25", "2001:db8::25")},
		{name: "unknown", host: "nope.example.com", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.LookupHost(context.Background(), tt.host)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			var nf *NotFoundError
			if tt.wantErr && !errors.As(err, &nf) {
				t.Errorf("err %v is not a *NotFoundError", err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// startServer runs a DNS server on 127.0.0.1 (random port) answering from
// zone (name -> records) and returning SERVFAIL for "fail.test.".
func startServer(t *testing.T, zone map[string][]string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := dns.NewServeMux()
	mux.HandleFunc(".", func(w dns.ResponseWriter, req *dns.Msg) {
		resp := new(dns.Msg)
		resp.SetReply(req)
		q := req.Question[0]
		rrs, ok := zone[q.Name]
		switch {
		case q.Name == "fail.test.":
			resp.Rcode = dns.RcodeServerFailure
		case !ok:
			resp.Rcode = dns.RcodeNameError
		}
		for _, s := range rrs {
			rr, err := dns.NewRR(s)
			if err != nil {
				t.Error(err)
				continue
			}
			if rr.Header().Rrtype == q.Qtype {
				resp.Answer = append(resp.Answer, rr)
			}
		}
		_ = w.WriteMsg(resp)
	})
	srv := &dns.Server{PacketConn: pc, Handler: mux}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}

func TestDNS(t *testing.T) {
	server := startServer(t, map[string][]string{
		"mail.example.com.": {
			"mail.example.com. 300 IN A 192.0.2.25",
			"mail.example.com. 60 IN AAAA 2001:db8::25",
			"mail.example.com. 300 IN A 192.0.2.26",
		},
		"v4only.example.com.": {"v4only.example.com. 100 IN A 192.0.2.4"},
		"empty.example.com.":  {},
	})
	hosts := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hosts, []byte("# hosts\n192.0.2.99 pinned.example.com pinned\nbogus line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &DNS{HostsPath: hosts, Servers: []string{server}, Timeout: 2 * time.Second}
	tests := []struct {
		name     string
		host     string
		want     []netip.Addr
		wantTTL  time.Duration
		notFound bool
		wantErr  bool
	}{
		{name: "A and AAAA, min TTL", host: "mail.example.com", want: addrs("192.0.2.25", "192.0.2.26", "2001:db8::25"), wantTTL: 60 * time.Second},
		{name: "fqdn", host: "v4only.example.com.", want: addrs("192.0.2.4"), wantTTL: 100 * time.Second},
		{name: "hosts file wins", host: "PINNED", want: addrs("192.0.2.99")},
		{name: "nxdomain", host: "nope.example.com", notFound: true, wantErr: true},
		{name: "no records", host: "empty.example.com", notFound: true, wantErr: true},
		{name: "servfail", host: "fail.test", wantErr: true},
		{name: "bad name", host: "a..b", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ttl, err := r.LookupHostTTL(context.Background(), tt.host)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			var nf *NotFoundError
			if errors.As(err, &nf) != tt.notFound {
				t.Errorf("err %v: NotFoundError = %v, want %v", err, !tt.notFound, tt.notFound)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if ttl != tt.wantTTL {
				t.Errorf("ttl = %v, want %v", ttl, tt.wantTTL)
			}
		})
	}
}

func TestDNSResolvConf(t *testing.T) {
	server := startServer(t, map[string][]string{"a.example.": {"a.example. 5 IN A 192.0.2.1"}})
	host, port, _ := net.SplitHostPort(server)
	conf := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(conf, []byte("nameserver "+host+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// resolv.conf cannot carry a port; check that servers() reads it, then
	// query with the test port.
	r := &DNS{NoHosts: true, ResolvConfPath: conf}
	servers, err := r.servers()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{host + ":53"}, servers); diff != "" {
		t.Errorf("servers (-want +got):\n%s", diff)
	}
	r.Servers = []string{net.JoinHostPort(host, port)}
	got, err := r.LookupHost(context.Background(), "a.example")
	if err != nil || len(got) != 1 {
		t.Errorf("LookupHost = %v, %v", got, err)
	}
}
