package ruleset

import (
	"fmt"
	"time"
)

// Connection limits in the kernel (internal/compile/limit.go):
//
//	ct state new                                         MatchCtNew
//	update @NAME { meta skuid limit rate 10/minute burst 5 packets }
//	add @NAME { meta skuid ct count 20 }                 MatchMeter
//
// A meter is a dynamic set (Set.Meter): the kernel adds one element per
// key (a uid, a destination address), each with its own token bucket or
// connection count. The match holds while the key's element is within its
// budget; it does not hold when the element is over it **or when the set
// is full** (the kernel cannot add the key), so a rule that accepts on it
// followed by one that refuses makes a full meter refuse, never allow.
const (
	// MatchCtNew: `ct state new`: the packet opens a connection.
	MatchCtNew MatchKind = "ct-new"
	// MatchMeter: the key of the meter Set (meta skuid for KindUID, ip
	// daddr / ip6 daddr for KindIPv4 / KindIPv6) is within Limit (a token
	// bucket per key: `update @S { KEY limit rate R/U burst B packets }`)
	// or within Count connections open at once (`add @S { KEY ct count N }`).
	MatchMeter MatchKind = "meter"
)

// Meter declares a set as a meter: no elements of its own, at most Size
// keys, each forgotten Timeout after it was last used (0: never; a ct
// count forgets a key when its connections are gone).
type Meter struct {
	Size    uint32        `json:"size"`
	Timeout time.Duration `json:"timeout,omitempty"`
}

// meterKey is the nft text of the key a meter of kind k is keyed by.
func meterKey(k SetKind) string {
	switch k {
	case KindIPv4:
		return "ip daddr"
	case KindIPv6:
		return "ip6 daddr"
	}
	return "meta skuid"
}

// meterText is MatchMeter's nft text.
func meterText(rs Lookup, m Match) string {
	key := "meta skuid"
	if s := rs.Set(m.Set); s != nil {
		key = meterKey(s.Kind)
	}
	if m.Limit != nil {
		return fmt.Sprintf("update @%s { %s limit rate %d/%s burst %d packets }", m.Set, key, m.Limit.Rate, m.Limit.Unit, m.Limit.Burst)
	}
	return fmt.Sprintf("add @%s { %s ct count %d }", m.Set, key, m.Count)
}

// meterSetText is the declaration of a meter set.
func meterSetText(s *Set) string {
	flags := "dynamic"
	timeout := ""
	if s.Meter.Timeout > 0 {
		flags += ",timeout"
		timeout = fmt.Sprintf("\t\ttimeout %s\n", nftDuration(s.Meter.Timeout))
	}
	return fmt.Sprintf("\t\ttype %s\n\t\tsize %d\n\t\tflags %s\n%s", s.Kind, s.Meter.Size, flags, timeout)
}

// nftDuration writes d as nft does: 1m, 90s, 2h.
func nftDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}

func validateMeter(s *Set) error {
	switch {
	case s.Kind != KindUID && s.Kind != KindIPv4 && s.Kind != KindIPv6:
		return fmt.Errorf("meter %s: kind %s; a meter is keyed by uid, ipv4_addr or ipv6_addr", s.Name, s.Kind)
	case s.Interval || len(s.Prefixes)+len(s.Ranges)+len(s.Times)+len(s.Cgroups)+len(s.State) > 0 || s.Live != nil:
		return fmt.Errorf("meter %s: a meter has no elements or flags of its own", s.Name)
	case s.Meter.Size == 0:
		return fmt.Errorf("meter %s: size must be positive", s.Name)
	case s.Meter.Timeout < 0 || s.Meter.Timeout%time.Second != 0:
		return fmt.Errorf("meter %s: timeout must be whole seconds", s.Name)
	}
	return nil
}

func validateMeterMatch(rs Lookup, m Match) error {
	s := rs.Set(m.Set)
	switch {
	case s == nil || s.Meter == nil:
		return fmt.Errorf("match meter: %q is not a meter", m.Set)
	case (m.Limit == nil) == (m.Count == 0):
		return fmt.Errorf("match meter @%s: give exactly one of a rate limit and a connection count", m.Set)
	case m.Limit != nil && (m.Limit.Rate == 0 || m.Limit.Burst == 0 || LogUnitSeconds(m.Limit.Unit) == 0):
		return fmt.Errorf("match meter @%s: bad rate %d/%s burst %d", m.Set, m.Limit.Rate, m.Limit.Unit, m.Limit.Burst)
	}
	return nil
}
