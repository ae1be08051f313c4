package policy

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/goccy/go-yaml/ast"

	"github.com/leash-dev/leash/internal/ruleset"
)

// Test cases from a LAN host: `{from: ["02:00:00:c8:01:02", 192.168.1.20],
// connect: 203.0.113.9:443, expect: deny}`. `leash test` makes the
// sandbox's LAN host this sender and the case's connection is forwarded by
// the sandbox's router, where the policy is loaded.

// Sender is a LAN host: any of its MAC, IPv4 and IPv6 addresses and the
// router interface it is behind; zero fields are the sandbox's defaults.
type Sender struct {
	MAC       string     `json:"mac,omitempty"`
	Addr4     netip.Addr `json:"addr4,omitzero"`
	Addr6     netip.Addr `json:"addr6,omitzero"`
	Interface string     `json:"interface,omitempty"`
}

// String is "02:00:00:c8:01:02 192.168.1.20 in br-lan".
func (s Sender) String() string {
	var parts []string
	if s.MAC != "" {
		parts = append(parts, s.MAC)
	}
	for _, a := range []netip.Addr{s.Addr4, s.Addr6} {
		if a.IsValid() {
			parts = append(parts, a.String())
		}
	}
	if s.Interface != "" {
		parts = append(parts, "in "+s.Interface)
	}
	if len(parts) == 0 {
		return "the LAN host"
	}
	return strings.Join(parts, " ")
}

// caseFrom converts a case's `from`: one entry or a list.
func (p *parser) caseFrom(f field) []*Scalar {
	if _, isList := f.value.(*ast.SequenceNode); isList {
		return p.forwardList(f.value, "from", `["02:00:00:c8:01:02", 192.168.1.20, br-lan]`)
	}
	if s := p.glued(f.value); s != nil {
		return []*Scalar{s}
	}
	if s := p.scalar(f.value, "from"); s != nil {
		return []*Scalar{s}
	}
	return nil
}

// senderOf resolves a case's from entries: each a MAC, an address or an
// interface name, at most one of each kind (and family).
func senderOf(list []*Scalar) (*Sender, error) {
	s := &Sender{}
	for _, e := range list {
		v := e.Value
		if hw, err := net.ParseMAC(v); err == nil && len(hw) == 6 {
			if s.MAC != "" {
				return nil, fmt.Errorf("from: two MAC addresses")
			}
			if hw[0]&1 != 0 {
				return nil, fmt.Errorf("from: %s is a multicast MAC address", v)
			}
			s.MAC = hw.String()
			continue
		}
		if a, err := netip.ParseAddr(v); err == nil && a.Zone() == "" {
			a = a.Unmap()
			slot := &s.Addr6
			if a.Is4() {
				slot = &s.Addr4
			}
			if slot.IsValid() {
				return nil, fmt.Errorf("from: two addresses of one family (%v, %v)", *slot, a)
			}
			*slot = a
			continue
		}
		if err := ruleset.ValidIfname(v, false); err != nil {
			return nil, fmt.Errorf("from: %s is not a MAC address, an IP address or an interface name", e.Raw)
		}
		if s.Interface != "" {
			return nil, fmt.Errorf("from: two interfaces")
		}
		s.Interface = v
	}
	return s, nil
}

// HasForwardedCases reports whether f's tests have a case with from (the
// sandbox then needs a LAN host).
func HasForwardedCases(f *File) bool {
	if f.Tests == nil {
		return false
	}
	for _, c := range f.Tests.Cases {
		if c.From != nil {
			return true
		}
	}
	return false
}
