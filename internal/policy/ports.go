package policy

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/leash-dev/leash/internal/decimal"
	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/services"
)

// protoAcc accumulates the ports or types of one protocol.
type protoAcc struct {
	all    bool
	ranges []ruleset.Range
}

// protoSet accumulates a `ports` list.
type protoSet map[uint8]*protoAcc

// addAll makes proto match every port or type.
func (ps protoSet) addAll(proto uint8) { ps.acc(proto).all = true }

// add adds the range lo-hi to proto.
func (ps protoSet) add(proto uint8, lo, hi uint32) {
	a := ps.acc(proto)
	a.ranges = append(a.ranges, ruleset.Range{Lo: lo, Hi: hi})
}

func (ps protoSet) acc(proto uint8) *protoAcc {
	if ps[proto] == nil {
		ps[proto] = &protoAcc{}
	}
	return ps[proto]
}

// specs returns the accumulated protocols sorted by number, with merged
// ranges; "all" wins over any list.
func (ps protoSet) specs() []ProtoSpec {
	var out []ProtoSpec
	for _, proto := range slices.Sorted(maps.Keys(ps)) {
		a := ps[proto]
		spec := ProtoSpec{Proto: proto}
		if !a.all {
			if proto == ruleset.ProtoTCP || proto == ruleset.ProtoUDP {
				spec.Ports = mergeRanges(a.ranges)
			} else {
				spec.Types = mergeRanges(a.ranges)
			}
		}
		out = append(out, spec)
	}
	return out
}

// ports resolves a `ports` list. any is true when the list is empty or
// contains `any`: every protocol, every port.
func (rv *resolver) ports(entries []*Scalar) (protos []ProtoSpec, any bool) {
	if len(entries) == 0 {
		return nil, true
	}
	ps := protoSet{}
	for _, e := range entries {
		if e.Kind != KindString && e.Kind != KindInt {
			rv.errorf(e.Pos, "ports: %s is not a port, port range, service or protocol; write e.g. 443/tcp", e.Raw)
			continue
		}
		any = rv.portEntry(ps, e) || any
	}
	if any {
		return nil, true
	}
	return ps.specs(), false
}

// portEntry adds one `ports` entry to ps and reports whether it is `any`.
func (rv *resolver) portEntry(ps protoSet, e *Scalar) (any bool) {
	s := e.Value
	switch {
	case s == "any":
		return true
	case s == "tcp":
		ps.addAll(ruleset.ProtoTCP)
	case s == "udp":
		ps.addAll(ruleset.ProtoUDP)
	case s == "icmp":
		ps.addAll(ruleset.ProtoICMP)
	case s == "icmpv6":
		ps.addAll(ruleset.ProtoICMPv6)
	case s == "ping":
		ps.add(ruleset.ProtoICMP, icmpEchoRequest, icmpEchoRequest)
		ps.add(ruleset.ProtoICMPv6, icmpv6EchoRequest, icmpv6EchoRequest)
	case strings.HasPrefix(s, "icmp:"), strings.HasPrefix(s, "icmpv6:"):
		rv.icmpEntry(ps, e)
	default:
		rv.portNumbers(ps, e)
	}
	return false
}

// portNumbers handles PORT, LO-HI and SERVICE, each optionally with /tcp or /udp.
func (rv *resolver) portNumbers(ps protoSet, e *Scalar) {
	base, protoName, hasProto := strings.Cut(e.Value, "/")
	protos := []uint8{ruleset.ProtoTCP, ruleset.ProtoUDP}
	if hasProto {
		p, ok := transport(protoName)
		if !ok {
			rv.errorf(e.Pos, "unknown protocol %q in %q; write /tcp or /udp, or icmp:TYPE for ICMP%s", protoName, e.Value, suggest(protoName, []string{"tcp", "udp"}))
			return
		}
		protos = []uint8{p}
	}
	if lo, hi, isRange := strings.Cut(base, "-"); isRange && decimal.Shaped(lo) && decimal.Shaped(hi) {
		rv.portRange(ps, e, protos, lo, hi)
		return
	}
	if decimal.Shaped(base) {
		if port, ok := rv.port(e, base); ok {
			for _, p := range protos {
				ps.add(p, port, port)
			}
		}
		return
	}
	rv.service(ps, e, base, protos, hasProto)
}

// transport maps tcp and udp to their protocol numbers.
func transport(name string) (uint8, bool) {
	switch name {
	case "tcp":
		return ruleset.ProtoTCP, true
	case "udp":
		return ruleset.ProtoUDP, true
	}
	return 0, false
}

// portRange adds lo-hi to protos.
func (rv *resolver) portRange(ps protoSet, e *Scalar, protos []uint8, lo, hi string) {
	a, okA := rv.port(e, lo)
	b, okB := rv.port(e, hi)
	if !okA || !okB {
		return
	}
	if a > b {
		rv.errorf(e.Pos, "port range %s-%s is reversed; write %d-%d", lo, hi, b, a)
		return
	}
	for _, p := range protos {
		ps.add(p, a, b)
	}
}

// port parses a port number, 1 to 65535.
func (rv *resolver) port(e *Scalar, text string) (uint32, bool) {
	v, err := decimal.Parse(text)
	switch {
	case decimal.Spelling(err):
		rv.errorf(e.Pos, "port %s: %v", text, err)
		return 0, false
	case err != nil || v > 65535:
		rv.errorf(e.Pos, "port %s is out of range; ports go from 1 to 65535", text)
		return 0, false
	case v == 0:
		rv.errorf(e.Pos, "port 0 is not a valid destination port; ports go from 1 to 65535 (write any for every port)")
		return 0, false
	}
	return uint32(v), true
}

// service adds the ports of a service name for protos. Without an explicit
// protocol, the name must be defined for at least one of tcp and udp.
func (rv *resolver) service(ps protoSet, e *Scalar, name string, protos []uint8, explicit bool) {
	var found []string
	for _, p := range protos {
		if port, ok := rv.env.Services.Port(name, ruleset.ProtoName(p)); ok && port != 0 {
			ps.add(p, uint32(port), uint32(port))
			found = append(found, fmt.Sprintf("%d/%s", port, ruleset.ProtoName(p)))
		}
	}
	if len(found) > 1 && !explicit {
		rv.warnf(e.Pos, fmt.Sprintf("write %s/tcp or %s/udp if only one is meant", name, name),
			"%s opens %s: /etc/services lists it for both protocols", name, strings.Join(found, " and "))
	}
	if len(found) > 0 {
		return
	}
	note := servicesNote(rv.env.Services)
	if explicit {
		rv.errorf(e.Pos, "unknown service %q for %s; check /etc/services or write the port number%s", name, ruleset.ProtoName(protos[0]), note)
		return
	}
	rv.errorf(e.Pos, "%q is not a port, a port range, a known service or a protocol (tcp, udp, icmp, icmpv6, ping, any); check /etc/services or write the port number%s", name, note)
}

// servicesNote is " (note: PROBLEM)" when db was not read completely, for
// errors about an unknown service name, and "" otherwise.
func servicesNote(db *services.DB) string {
	if p := db.Problem(); p != "" {
		return " (note: " + p + ")"
	}
	return ""
}

// icmpEntry handles icmp:TYPE and icmpv6:TYPE.
func (rv *resolver) icmpEntry(ps protoSet, e *Scalar) {
	family, typ, _ := strings.Cut(e.Value, ":")
	proto, names := uint8(ruleset.ProtoICMP), icmpTypes()
	if family == "icmpv6" {
		proto, names = ruleset.ProtoICMPv6, icmpv6Types()
	}
	if n, ok := names[typ]; ok {
		ps.add(proto, uint32(n), uint32(n))
		return
	}
	if decimal.Shaped(typ) {
		v, err := decimal.Parse(typ)
		if decimal.Spelling(err) {
			rv.errorf(e.Pos, "%s type %s: %v", family, typ, err)
			return
		}
		if err == nil && v <= 255 {
			ps.add(proto, uint32(v), uint32(v))
			return
		}
		rv.errorf(e.Pos, "%s type %s is out of range; types go from 0 to 255", family, typ)
		return
	}
	known := slices.Sorted(maps.Keys(names))
	rv.errorf(e.Pos, "unknown %s type %q%s (known: %s, or a number 0-255)", family, typ, suggest(typ, known), strings.Join(known, ", "))
}
