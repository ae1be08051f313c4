package compile

import (
	"fmt"
	"hash/fnv"
	"time"

	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
)

// LiveOptions shape the live sets HostSets makes.
type LiveOptions struct {
	// Timeout is the sets' default element timeout (0: none), e.g. the
	// longest TTL plus a grace period.
	Timeout time.Duration
	// Size caps each set (0: the kernel's default).
	Size uint32
	// Counters makes each address count its packets.
	Counters bool
}

// HostSets makes the hostname addresses of a rule's destinations live
// sets, one per hostname and address family that has addresses, fed by
// Source "host:NAME" (ruleset.SourceHost) and holding the addresses the
// name resolved to (r.Hosts), so that the daemon can refresh each name's
// addresses alone by TTL (ruleset.ElementOp on the sets of that source).
// The compiler does not emit them yet: which sets become live is the
// daemon's decision. Sets are named HostSetName(family, name).
func HostSets(r *policy.Resolved, to *policy.Destinations, opt LiveOptions) []*ruleset.Set {
	if to == nil {
		return nil
	}
	var out []*ruleset.Set
	for _, name := range to.Hosts {
		for _, fam := range []struct {
			v    int
			kind ruleset.SetKind
		}{{4, ruleset.KindIPv4}, {6, ruleset.KindIPv6}} {
			var elems []ruleset.Element
			for _, a := range r.Hosts[name] {
				if a = a.Unmap(); a.Is4() == (fam.v == 4) {
					elems = append(elems, ruleset.Element{Addr: a.WithZone("")})
				}
			}
			if len(elems) == 0 {
				continue
			}
			s := &ruleset.Set{Name: HostSetName(fam.v, name), Kind: fam.kind,
				Live: &ruleset.Live{Timeout: opt.Timeout, Size: opt.Size, Counters: opt.Counters, Source: ruleset.SourceHost(name)}}
			s.SetElements(elems)
			out = append(out, s)
		}
	}
	return out
}

// HostSetName names the live set of hostname name's family-v addresses:
// "host4_mail.example.com"; a name too long for a set name is shortened
// to its first characters and a hash.
func HostSetName(v int, name string) string {
	n := fmt.Sprintf("host%d_%s", v, name)
	if len(n) <= ruleset.MaxNameLen {
		return n
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	return fmt.Sprintf("%s_%016x", n[:ruleset.MaxNameLen-17], h.Sum64())
}
