package sandbox

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// dnsTTL is the TTL of every answer of the peer's DNS server.
const dnsTTL = 60

// zone is what the peer's DNS server knows: lower-case FQDN → addresses.
type zone map[string][]netip.Addr

// newZone builds a zone from Config.Hosts, checking every name and address.
func newZone(hosts map[string][]netip.Addr) (zone, error) {
	z := zone{}
	for name, addrs := range hosts {
		fqdn := dns.Fqdn(strings.ToLower(name))
		if _, ok := dns.IsDomainName(fqdn); !ok || fqdn == "." {
			return nil, fmt.Errorf("sandbox: Hosts: invalid DNS name %q", name)
		}
		for _, a := range addrs {
			if !a.IsValid() {
				return nil, fmt.Errorf("sandbox: Hosts: %q has an invalid address", name)
			}
			z[fqdn] = append(z[fqdn], a.Unmap())
		}
		if len(addrs) == 0 {
			z[fqdn] = nil // the name exists, with no addresses
		}
	}
	return z, nil
}

// ServeDNS answers A and AAAA queries for names in the zone, with an empty
// NOERROR answer for other types of known names and NXDOMAIN for unknown ones.
func (z zone) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	resp := new(dns.Msg)
	resp.SetReply(req)
	resp.Authoritative = true
	if len(req.Question) == 1 {
		z.answer(resp, req.Question[0])
	} else {
		resp.Rcode = dns.RcodeFormatError
	}
	w.WriteMsg(resp)
}

// answer fills resp for question q.
func (z zone) answer(resp *dns.Msg, q dns.Question) {
	addrs, known := z[strings.ToLower(q.Name)]
	if !known {
		resp.Rcode = dns.RcodeNameError
		return
	}
	hdr := dns.RR_Header{Name: q.Name, Class: dns.ClassINET, Ttl: dnsTTL}
	for _, a := range addrs {
		switch {
		case q.Qtype == dns.TypeA && a.Is4():
			hdr.Rrtype = dns.TypeA
			resp.Answer = append(resp.Answer, &dns.A{Hdr: hdr, A: a.AsSlice()})
		case q.Qtype == dns.TypeAAAA && a.Is6():
			hdr.Rrtype = dns.TypeAAAA
			resp.Answer = append(resp.Answer, &dns.AAAA{Hdr: hdr, AAAA: a.AsSlice()})
		}
	}
}
