package policy

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/leash-dev/leash/internal/decimal"
	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/services"
)

// Target is the destination of a connection as `leash check --to` and test
// cases' `connect:` write it: HOST[:PORT[/PROTO]].
type Target struct {
	Host  string
	Port  uint16
	Proto string // tcp, udp, icmp (echo; icmpv6 for IPv6 addresses)
}

// ParseTarget parses HOST[:PORT[/PROTO]], with IPv6 hosts in brackets when a
// port follows ([2001:db8::1]:53/udp). PORT may be a service name. Without a
// port the connection is an ICMP echo (ping). PROTO defaults to tcp.
func ParseTarget(s string, svc *services.DB) (Target, error) {
	t := Target{Proto: "tcp"}
	hostport, proto, hasProto := strings.Cut(s, "/")
	if hasProto {
		switch proto {
		case "tcp", "udp", "icmp", "icmpv6":
			t.Proto = proto
		default:
			return t, fmt.Errorf("%q: protocol %q: want tcp, udp, icmp or icmpv6", s, proto)
		}
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		// No port: a bare host (IPv6 literals need no brackets then).
		t.Host = strings.Trim(hostport, "[]")
		if !hasProto || t.Proto == "tcp" || t.Proto == "udp" {
			t.Proto = "icmp"
		}
		if t.Host == "" {
			return t, fmt.Errorf("%q: no host", s)
		}
		return t, nil
	}
	t.Host = host
	if t.Proto == "icmp" || t.Proto == "icmpv6" {
		return t, fmt.Errorf("%q: icmp takes no port", s)
	}
	t.Port, err = targetPort(s, port, t.Proto, svc)
	return t, err
}

// ParseServed parses a test case's `serve: PORT[/PROTO]`: the port (or
// service name) a subject's server listens on, PROTO tcp (default) or udp.
// The Target has no Host.
func ParseServed(s string, svc *services.DB) (Target, error) {
	t := Target{Proto: "tcp"}
	port, proto, hasProto := strings.Cut(s, "/")
	if hasProto {
		if proto != "tcp" && proto != "udp" {
			return t, fmt.Errorf("serve %q: protocol %q: a server is tcp or udp", s, proto)
		}
		t.Proto = proto
	}
	if port == "" {
		return t, fmt.Errorf("serve %q: no port; write PORT/PROTO, e.g. 5432/tcp", s)
	}
	var err error
	t.Port, err = targetPort(s, port, t.Proto, svc)
	return t, err
}

// targetPort parses the PORT of s: plain decimal 1-65535, or a service name.
func targetPort(s, port, proto string, svc *services.DB) (uint16, error) {
	n, err := decimal.Parse(port)
	switch {
	case decimal.Spelling(err):
		return 0, fmt.Errorf("%q: port %s: %w", s, port, err)
	case decimal.Shaped(port) && (err != nil || n > 65535):
		return 0, fmt.Errorf("%q: port %s is out of range; ports go from 1 to 65535", s, port)
	case err == nil && n > 0:
		return uint16(n), nil
	case err == nil:
		return 0, fmt.Errorf("%q: port 0 is not a destination port", s)
	}
	p, ok := svc.Port(port, proto)
	if !ok {
		return 0, fmt.Errorf("%q: %q is neither a port number nor a %s service in /etc/services%s", s, port, proto, servicesNote(svc))
	}
	return p, nil
}

// IPProto returns the IP protocol number and ICMP type of a connection to
// addr: a ping is ICMP echo-request for IPv4, ICMPv6 echo-request for IPv6.
func (t Target) IPProto(addr netip.Addr) (proto uint8, icmpType uint8) {
	switch t.Proto {
	case "tcp":
		return ruleset.ProtoTCP, 0
	case "udp":
		return ruleset.ProtoUDP, 0
	}
	if addr.Is4() {
		return ruleset.ProtoICMP, 8 // echo-request
	}
	return ruleset.ProtoICMPv6, 128 // echo-request
}

// Describe prints the connection to addr as ADDR:PORT/PROTO.
func (t Target) Describe(addr netip.Addr) string {
	if t.Port == 0 {
		if addr.Is4() {
			return addr.String() + " (icmp echo)"
		}
		return addr.String() + " (icmpv6 echo)"
	}
	return netip.AddrPortFrom(addr, t.Port).String() + "/" + t.Proto
}
