package sandbox

import (
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

func TestZoneAnswers(t *testing.T) {
	z, err := newZone(map[string][]netip.Addr{
		"API.example.com": {netip.MustParseAddr("198.51.100.10"), netip.MustParseAddr("2001:db8::10")},
		"empty.example":   nil,
	})
	if err != nil {
		t.Fatal(err)
	}
	ask := func(name string, qtype uint16) *dns.Msg {
		m := new(dns.Msg)
		z.answer(m, dns.Question{Name: name, Qtype: qtype, Qclass: dns.ClassINET})
		return m
	}
	if m := ask("api.EXAMPLE.com.", dns.TypeA); len(m.Answer) != 1 || m.Answer[0].(*dns.A).A.String() != "198.51.100.10" {
		t.Errorf("A: %v", m.Answer)
	}
	if m := ask("api.example.com.", dns.TypeAAAA); len(m.Answer) != 1 || m.Answer[0].(*dns.AAAA).AAAA.String() != "2001:db8::10" {
		t.Errorf("AAAA: %v", m.Answer)
	}
	if m := ask("empty.example.", dns.TypeA); m.Rcode != dns.RcodeSuccess || len(m.Answer) != 0 {
		t.Errorf("known name without addresses: rcode %d, %v; want NOERROR, no answer", m.Rcode, m.Answer)
	}
	if m := ask("other.example.", dns.TypeA); m.Rcode != dns.RcodeNameError {
		t.Errorf("unknown name: rcode %d, want NXDOMAIN", m.Rcode)
	}
	if _, err := newZone(map[string][]netip.Addr{"bad..name": nil}); err == nil {
		t.Errorf("invalid name accepted")
	}
}
