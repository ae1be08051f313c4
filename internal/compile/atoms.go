package compile

import (
	"net/netip"

	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
)

// atom is one box of a policy rule: one address family part of its
// destinations times one protocol of its ports. A rule is the union of its
// atoms, which are disjoint (different families or protocols), so the
// order of a rule's atoms never matters.
type atom struct {
	idx  int // position in the policy's atom list: first match order
	rule *policy.ResolvedRule
	fam  int            // 4, 6, or 0 when the rule names no destinations
	pfx  []netip.Prefix // destinations in fam (nil when fam is 0: any)
	spec *policy.ProtoSpec
	// Derived from spec: proto 0 is any protocol; sub is the kind of the
	// values matched after the protocol (ports, ICMP types), "" for none,
	// and subs those values (merged ranges).
	proto uint8
	sub   ruleset.SetKind
	subs  []ruleset.Range
	// classic atoms keep their own kernel rule (see mergeable).
	classic bool
}

// maxElements bounds the hash entries one atom may add to a lookup
// (destinations times ports); a bigger atom keeps its own rule.
const maxElements = 1 << 20

// atomsOf splits the rules of a policy into atoms, in rule order.
func atomsOf(rules []*policy.ResolvedRule) []*atom {
	var out []*atom
	for _, r := range rules {
		type famPart struct {
			v   int
			pfx []netip.Prefix
		}
		fams := []famPart{{v: 0}}
		if r.To != nil {
			fams = []famPart{{4, r.To.V4}, {6, r.To.V6}}
		}
		for _, f := range fams {
			if f.v != 0 && len(f.pfx) == 0 {
				continue // the rule matches nothing in this family
			}
			specs := []*policy.ProtoSpec{nil}
			if r.Protos != nil {
				specs = specs[:0]
				for i := range r.Protos {
					specs = append(specs, &r.Protos[i])
				}
			}
			for _, s := range specs {
				if s != nil && ((s.Proto == ruleset.ProtoICMP && f.v == 6) || (s.Proto == ruleset.ProtoICMPv6 && f.v == 4)) {
					continue
				}
				a := &atom{idx: len(out), rule: r, fam: f.v, pfx: f.pfx, spec: s}
				a.derive()
				out = append(out, a)
			}
		}
	}
	return out
}

// derive fills proto, sub, subs and classic from spec.
func (a *atom) derive() {
	if a.spec != nil {
		a.proto = a.spec.Proto
		switch {
		case a.spec.Ports != nil:
			a.sub, a.subs = ruleset.KindPort, a.spec.Ports
		case a.spec.Types != nil && a.proto == ruleset.ProtoICMP:
			a.sub, a.subs = ruleset.KindICMP, a.spec.Types
		case a.spec.Types != nil && a.proto == ruleset.ProtoICMPv6:
			a.sub, a.subs = ruleset.KindICMPv6, a.spec.Types
		}
	}
	a.classic = !a.mergeable()
}

// mergeable reports whether the atom can be an entry of a shared hash
// lookup: it has a destination or a protocol to key on, its ports or types
// are single values or narrow ranges (expanded), no destination is /0 (a
// mask of 0 bits is no mask), and it adds at most maxElements entries.
func (a *atom) mergeable() bool {
	if a.fam == 0 && a.proto == 0 || len(a.rule.Via) > 0 {
		return false // a rule limited to interfaces (via) keeps its own rules: viaRules
	}
	values := 1
	if a.sub != "" {
		elems, interval := numLayout(a.subs)
		if interval {
			return false
		}
		values = len(elems)
	}
	for _, p := range a.pfx {
		if p.Bits() == 0 {
			return false
		}
	}
	return max(len(a.pfx), 1)*values <= maxElements
}

// effFam is the family the atom is limited to: its destinations' family,
// or the family of its ICMP protocol.
func (a *atom) effFam() int { return limitedFam(a.fam, a.proto) }

// limitedFam is the family (4, 6; 0 for both) that packets with addresses
// of family fam (0: any) and protocol proto (0: any) can have.
func limitedFam(fam int, proto uint8) int {
	switch {
	case fam != 0:
		return fam
	case proto == ruleset.ProtoICMP:
		return 4
	case proto == ruleset.ProtoICMPv6:
		return 6
	}
	return 0
}

// shape is what atoms sharing one lookup have in common: the fields of
// the key. Atoms of one shape differ only in the values.
type shape struct {
	fam      int  // address field of this family; 0 for none
	protoKey bool // meta l4proto is a key field
	sub      ruleset.SetKind
	proto    uint8 // the fixed protocol of an ICMP type field
}

func (a *atom) shape() shape {
	s := shape{fam: a.fam, sub: a.sub}
	if a.sub == ruleset.KindICMP || a.sub == ruleset.KindICMPv6 {
		s.proto = a.proto
	} else {
		s.protoKey = a.proto != 0
	}
	return s
}

// disjoint reports whether no packet matches both atoms, so that their
// order does not matter. It may answer false for disjoint atoms (never
// true for overlapping ones).
func disjoint(a, b *atom) bool {
	fa, fb := a.effFam(), b.effFam()
	switch {
	case fa != 0 && fb != 0 && fa != fb:
		return true
	case a.proto != 0 && b.proto != 0 && a.proto != b.proto:
		return true
	case a.sub != "" && a.sub == b.sub && !rangesOverlap(a.subs, b.subs):
		return true
	case a.fam != 0 && a.fam == b.fam && !prefixesOverlap(a.pfx, b.pfx):
		return true
	}
	return false
}

// rangesOverlap reports whether two sorted, disjoint range lists share a value.
func rangesOverlap(x, y []ruleset.Range) bool {
	for i, j := 0, 0; i < len(x) && j < len(y); {
		switch {
		case x[i].Hi < y[j].Lo:
			i++
		case y[j].Hi < x[i].Lo:
			j++
		default:
			return true
		}
	}
	return false
}

// prefixesOverlap reports whether two sorted, disjoint prefix lists of
// one family share an address.
func prefixesOverlap(x, y []netip.Prefix) bool {
	for i, j := 0, 0; i < len(x) && j < len(y); {
		switch {
		case ruleset.LastAddr(x[i]).Less(y[j].Addr()):
			i++
		case ruleset.LastAddr(y[j]).Less(x[i].Addr()):
			j++
		default:
			return true
		}
	}
	return false
}

// rangeHas reports whether v lies in one of the sorted ranges rs.
func rangeHas(rs []ruleset.Range, v uint32) bool {
	for _, r := range rs {
		if r.Contains(v) {
			return true
		}
	}
	return false
}
