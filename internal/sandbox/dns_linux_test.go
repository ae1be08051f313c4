package sandbox_test

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/leash-dev/leash/internal/kerneltest"
)

func TestDNSAnswersConfiguredHostsFromClient(t *testing.T) {
	kerneltest.Require(t)
	v4, v6 := netip.MustParseAddr("198.51.100.10"), netip.MustParseAddr("2001:db8::10")
	s := newSandbox(t, map[string][]netip.Addr{"api.example.com": {v4, v6}})

	for _, server := range []netip.AddrPort{s.DNSServer(), s.DNSServer6()} {
		for _, net := range []string{"udp", "tcp"} {
			c := &dns.Client{Net: net, Timeout: time.Second}
			query := func(name string, qtype uint16) *dns.Msg {
				t.Helper()
				var resp *dns.Msg
				err := s.Client().Do(func() error {
					var err error
					resp, _, err = c.Exchange(new(dns.Msg).SetQuestion(name, qtype), server.String())
					return err
				})
				if err != nil {
					t.Fatalf("%s %v: %v", net, server, err)
				}
				return resp
			}
			if got := answers(query("API.example.com.", dns.TypeA)); !slices.Equal(got, []netip.Addr{v4}) {
				t.Errorf("%s %v: A = %v, want %v", net, server, got, v4)
			}
			if got := answers(query("api.example.com.", dns.TypeAAAA)); !slices.Equal(got, []netip.Addr{v6}) {
				t.Errorf("%s %v: AAAA = %v, want %v", net, server, got, v6)
			}
			if resp := query("unknown.example.com.", dns.TypeA); resp.Rcode != dns.RcodeNameError {
				t.Errorf("%s %v: unknown name: rcode %s, want NXDOMAIN", net, server, dns.RcodeToString[resp.Rcode])
			}
		}
	}
}

// answers extracts the A and AAAA addresses of a response.
func answers(m *dns.Msg) []netip.Addr {
	var out []netip.Addr
	for _, rr := range m.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			a, _ := netip.AddrFromSlice(rr.A)
			out = append(out, a.Unmap())
		case *dns.AAAA:
			a, _ := netip.AddrFromSlice(rr.AAAA)
			out = append(out, a)
		}
	}
	return out
}
