// Package ruleset is leash's model of the one nftables table it owns.
//
// A Ruleset is what internal/compile produces from a policy, what internal/nft
// encodes into one netlink transaction (and decodes back from the kernel), what
// internal/eval interprets to explain a verdict, and what Text prints as
// `nft -f` input. Every rule in a Ruleset is exactly one kernel rule, in order,
// so counters read back from the kernel map onto it one to one.
//
// The model is deliberately closed: a rule is a conjunction of Matches drawn
// from a small fixed vocabulary (MatchKind) and one Verdict. Anything the
// kernel holds in leash's table that does not fit this vocabulary is foreign
// and reported as such by the decoder.
package ruleset

import (
	"fmt"
	"net/netip"
)

// TableName is the name of the table leash owns, in family inet.
const TableName = "leash"

// Ruleset is the whole `table inet leash`.
type Ruleset struct {
	Sets   []*Set   `json:"sets,omitempty"`
	Maps   []*Map   `json:"maps,omitempty"`
	Chains []*Chain `json:"chains"`
}

// SetKind is the nftables data type of a set's keys.
type SetKind string

// The set and map key types leash uses.
const (
	KindIPv4   SetKind = "ipv4_addr"    // ip daddr
	KindIPv6   SetKind = "ipv6_addr"    // ip6 daddr
	KindPort   SetKind = "inet_service" // th dport
	KindICMP   SetKind = "icmp_type"    // icmp type
	KindICMPv6 SetKind = "icmpv6_type"  // icmpv6 type
	KindUID    SetKind = "uid"          // meta skuid (maps only)
	KindGID    SetKind = "gid"          // meta skgid (maps only)
	KindProto  SetKind = "inet_proto"   // meta l4proto (map key fields only)
)

// Set is a named set: `set NAME { type KIND; [flags interval;] }`.
// Address sets use Prefixes, numeric sets use Ranges. Elements are sorted,
// merged and non-overlapping: the kernel rejects overlapping intervals.
//
// An interval set (Interval true) is an rbtree in the kernel: O(log n) per
// lookup. A set without the flag is a hash (or, for 2-byte keys, a bitmap):
// O(1), but it holds single values only, so every prefix is a full-length
// address and every range a single number. A hash set of network addresses
// of one prefix length serves a masked lookup (`ip daddr & MASK @s`, see
// Match.Mask), which is how the compiler keeps large CIDR lists O(1).
type Set struct {
	Name     string         `json:"name"`
	Kind     SetKind        `json:"kind"`
	Interval bool           `json:"interval,omitempty"`
	Prefixes []netip.Prefix `json:"prefixes,omitempty"`
	Ranges   []Range        `json:"ranges,omitempty"`
	// Times holds the instants of a KindTime set (time.go).
	Times []TimeRange `json:"times,omitempty"`
	// Meter makes the set a meter, a dynamic set (meter.go).
	Meter *Meter `json:"meter,omitempty"`
	// Live, Cgroups and State: see live.go. Live declares a set whose
	// elements change at run time; Cgroups holds the keys of a KindCgroup
	// set; State the kernel state of a live set's elements, empty or
	// aligned with its keys (Elements, SetElements).
	Cgroups []uint64       `json:"cgroups,omitempty"`
	Live    *Live          `json:"live,omitempty"`
	State   []ElementState `json:"state,omitempty"`
}

// Range is an inclusive numeric interval [Lo, Hi].
type Range struct {
	Lo uint32 `json:"lo"`
	Hi uint32 `json:"hi"`
}

// String formats r as "5" or "5-9": numbers, uids and gids included (nft
// would print user names, but numbers are what the kernel holds and do not
// depend on this host's passwd file).
func (r Range) String() string {
	if r.Lo == r.Hi {
		return fmt.Sprint(r.Lo)
	}
	return fmt.Sprintf("%d-%d", r.Lo, r.Hi)
}

// Contains reports whether v lies in r.
func (r Range) Contains(v uint32) bool { return r.Lo <= v && v <= r.Hi }

// Map is a verdict map. Its key is either one numeric field, Key (uid or
// gid, each entry's Range):
//
//	map NAME { type uid : verdict; [flags interval;] elements = { 1000 : jump p_x } }
//
// or a concatenation of typed fields, Fields (each entry's Values, one per
// field; see KeyField for the vocabulary):
//
//	map NAME { type ipv4_addr . inet_proto . inet_service : verdict;
//	           elements = { 192.0.2.0 . tcp . 25 : jump p_x.r1 } }
//
// Exactly one of Key and Fields is set. The map also says how it is looked
// up: the rule `vmap @NAME` loads the key from the packet as its fields
// name it (`ip daddr & 255.255.255.0 . meta l4proto . th dport vmap @NAME`).
// Entries are sorted and disjoint. Without Interval the map is a hash and
// every entry is a single key (Lo == Hi, full-length addresses); see Set
// for the cost difference. A Fields map with Interval has exactly one
// field (an rbtree); concatenated interval maps (pipapo) are not part of
// the vocabulary: their lookup cost grows with the number of entries.
type Map struct {
	Name     string     `json:"name"`
	Key      SetKind    `json:"key,omitempty"`    // KindUID or KindGID
	Fields   []KeyField `json:"fields,omitempty"` // a concatenated key
	Interval bool       `json:"interval,omitempty"`
	// Counters and Origins: see entryverdict.go (a map whose entries
	// carry their rule's verdict and counter).
	Counters bool       `json:"counters,omitempty"`
	Entries  []MapEntry `json:"entries,omitempty"`
	Origins  []Origin   `json:"origins,omitempty"`
}

// MapEntry sends the packets whose key is in it to Chain with a jump: the
// uids (or gids) in Range for a Key map, the tuple Values for a Fields map.
// An entry of a Fields map may instead carry a terminal verdict of its
// own, Verdict, for rule Rule (entryverdict.go); Chain is then empty.
type MapEntry struct {
	Range
	Values  []KeyValue  `json:"values,omitempty"`
	Chain   string      `json:"chain,omitempty"`
	Verdict VerdictKind `json:"verdict,omitempty"` // Accept or Drop
	Rule    string      `json:"rule,omitempty"`    // the Origin.ID of the rule deciding, the element's comment
	// Counters read back from the kernel (a map with Counters); zero in
	// compiled output.
	Packets uint64 `json:"packets,omitempty"`
	Bytes   uint64 `json:"bytes,omitempty"`
}

// Chain is one nftables chain. Base chains have a Hook.
type Chain struct {
	Name  string  `json:"name"`
	Hook  *Hook   `json:"hook,omitempty"`
	Rules []*Rule `json:"rules,omitempty"`
}

// Hook makes a chain a base chain:
// `type filter hook output priority PRIORITY; policy accept;`.
// leash only ever hooks output with policy accept; its rules carry the verdicts.
type Hook struct {
	Hook     string `json:"hook"`     // "output"
	Priority int32  `json:"priority"` // 0 = filter
}

// Rule is one kernel rule: all Matches must hold, then Verdict applies.
// Every rule carries a counter.
type Rule struct {
	Match   []Match `json:"match,omitempty"`
	Verdict Verdict `json:"verdict"`
	Origin  Origin  `json:"origin"`
	// Counters read back from the kernel; zero in compiled output.
	Packets uint64 `json:"packets,omitempty"`
	Bytes   uint64 `json:"bytes,omitempty"`
}

// MatchKind is one of the conditions leash's rules are built from.
type MatchKind string

// The match vocabulary. The nft equivalent of each is in Match.String.
const (
	// MatchFamily: `meta nfproto ipv4|ipv6`. Value is 4 or 6.
	MatchFamily MatchKind = "family"
	// MatchOwned: `meta skuid >= 0`: the packet has an owning full socket with
	// a file (see docs/security.md, "packets without an owner").
	MatchOwned MatchKind = "owned"
	// MatchLoopback: `oif "lo"` (ifindex 1): the packet stays on this host.
	MatchLoopback MatchKind = "loopback"
	// MatchCtReply: `ct direction reply`: the packet answers a connection
	// that was opened towards this host.
	MatchCtReply MatchKind = "ct-reply"
	// MatchCtEstablished: `ct state established,related`.
	MatchCtEstablished MatchKind = "ct-established"
	// MatchL4Proto: `meta l4proto N`. Value is the IP protocol number.
	MatchL4Proto MatchKind = "l4proto"
	// MatchDaddr: `ip daddr @SET` or `ip6 daddr @SET` (by the set's kind),
	// with `& MASK` before the lookup when Match.Mask is set.
	MatchDaddr MatchKind = "daddr"
	// MatchDport: `th dport @SET`.
	MatchDport MatchKind = "dport"
	// MatchICMPType: `icmp type @SET` or `icmpv6 type @SET` (by the set's kind).
	MatchICMPType MatchKind = "icmp-type"
	// MatchRoutingHeader: `exthdr rt exists`: an IPv6 packet with a routing
	// header (segment routing: its destination is not where it goes).
	// Implies `meta nfproto ipv6`.
	MatchRoutingHeader MatchKind = "routing-header"
	// MatchSourceRoute: `ip option lsrr exists` (Value 131, OptLSRR) or
	// `ip option ssrr exists` (Value 137, OptSSRR): an IPv4 packet with a
	// loose or strict source route, which sends it on beyond the destination
	// the rules judge. Implies `meta nfproto ipv4`.
	MatchSourceRoute MatchKind = "source-route"
	// MatchLimit: `limit rate R/UNIT burst B packets`: holds while the
	// rule's packets stay within the rate (a token bucket per rule); Limit
	// gives it. It is a rule's last match, and not on a log rule (whose
	// limit is its own).
	MatchLimit MatchKind = "limit"
	// MatchMark: `meta mark VALUE`: the packet's mark (the socket's
	// SO_MARK for locally generated packets) is Value. leash's own DNS
	// sockets carry compile.DNSMark (the DNS exemption).
	MatchMark MatchKind = "mark"
)

// IPv4 option types MatchSourceRoute takes (RFC 791).
const (
	OptLSRR = 131 // loose source and record route
	OptSSRR = 137 // strict source and record route
)

// RateLimit is a token bucket: Rate packets per Unit (second, minute, hour,
// day), Burst packets at once.
type RateLimit struct {
	Rate  uint32 `json:"rate"`
	Unit  string `json:"unit"`
	Burst uint32 `json:"burst"`
}

// Match is one condition of a rule. Set names a set for the lookup kinds;
// Value carries the operand of MatchFamily and MatchL4Proto. Mask, for
// MatchDaddr only, is a prefix length: the address is masked to its first
// Mask bits before the lookup (`ip daddr & 255.255.255.240 @s` for 28), so a
// hash set of /28 network addresses matches the whole /28s. 0 means no mask.
type Match struct {
	Kind  MatchKind  `json:"kind"`
	Set   string     `json:"set,omitempty"`
	Value uint32     `json:"value,omitempty"`
	Mask  uint8      `json:"mask,omitempty"`
	Limit *RateLimit `json:"limit,omitempty"` // MatchLimit, MatchMeter
	Name  string     `json:"name,omitempty"`  // MatchOifname: an interface name or pattern
	// Level and Not: MatchCgroup only (cgroup.go).
	Level uint32 `json:"level,omitempty"`
	Not   bool   `json:"not,omitempty"`
	Count uint32 `json:"count,omitempty"` // MatchMeter: ct count
	// Bits: MatchCtMark only, the mask of the conntrack mark (ctmark.go).
	Bits uint32 `json:"bits,omitempty"`
}

// VerdictKind is what a rule does when it matches.
type VerdictKind string

// Verdicts. Reject is split in two kinds so that one IR rule is one kernel rule.
const (
	Accept       VerdictKind = "accept"
	Drop         VerdictKind = "drop"
	RejectTCPRST VerdictKind = "reject-tcp-reset"        // reject with tcp reset
	RejectAdmin  VerdictKind = "reject-admin-prohibited" // reject with icmpx admin-prohibited
	Jump         VerdictKind = "jump"                    // jump Chain
	Goto         VerdictKind = "goto"                    // goto Chain
	VMap         VerdictKind = "vmap"                    // meta skuid|skgid vmap @Map
	Continue     VerdictKind = "continue"                // counter only, no verdict
	// Log sends the packet to an NFLOG group through a rate limit and goes
	// on with the next rule: `limit rate R/UNIT burst B packets counter log
	// prefix "P" group G snaplen N`. The counter counts logged packets only.
	Log VerdictKind = "log"
)

// Verdict is a rule's action.
type Verdict struct {
	Kind  VerdictKind `json:"kind"`
	Chain string      `json:"chain,omitempty"` // Jump, Goto
	Map   string      `json:"map,omitempty"`   // VMap: the map; its Key says skuid or skgid
	// Level is the cgroup level of a VMap on a live verdict map (a Set
	// with Live.Verdicts): `socket cgroupv2 level Level vmap @Map`.
	Level uint32     `json:"level,omitempty"`
	Log   *LogAction `json:"log,omitempty"`  // Log
	Mark  *MarkSet   `json:"mark,omitempty"` // CtMarkSet (ctmark.go)
}

// LogAction is a rate-limited NFLOG statement (see the Log verdict).
type LogAction struct {
	Prefix string `json:"prefix"` // LogPrefix(rule id, verdict)
	Group  uint16 `json:"group"`
	Rate   uint32 `json:"rate"`
	Unit   string `json:"unit"` // second, minute, hour, day
	Burst  uint32 `json:"burst"`
}

// Terminal reports whether the verdict ends evaluation of the packet in
// leash's table when taken (accept, drop or reject).
func (v Verdict) Terminal() bool {
	switch v.Kind {
	case Accept, Drop, RejectTCPRST, RejectAdmin:
		return true
	}
	return false
}

// Allows reports whether a terminal verdict lets the packet through.
func (v Verdict) Allows() bool { return v.Kind == Accept }

// Origin ties a kernel rule back to the policy text that produced it.
// ID is stored in the kernel as the rule's comment (`comment "ID"`).
type Origin struct {
	ID     string `json:"id"`               // e.g. "webmail/r1", "webmail/default", "baseline/unowned"
	Policy string `json:"policy,omitempty"` // policy name, empty for baseline rules
	Rule   int    `json:"rule,omitempty"`   // 1-based rule number within the policy, 0 if none
	What   string `json:"what"`             // rule, default, loopback, established, dispatch, unowned
	File   string `json:"file,omitempty"`
	Line   int    `json:"line,omitempty"`
	Col    int    `json:"col,omitempty"`
	Text   string `json:"text,omitempty"` // the policy source of the rule, one line
}

// Where formats the origin's source position as FILE:LINE:COL, or "" if unknown.
func (o Origin) Where() string {
	if o.File == "" || o.Line == 0 {
		return ""
	}
	return fmt.Sprintf("%s:%d:%d", o.File, o.Line, o.Col)
}

// Set returns the set named name, or nil, by linear search: a walk over
// all rules looks sets up in an Index instead.
func (rs *Ruleset) Set(name string) *Set {
	for _, s := range rs.Sets {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Map returns the verdict map named name, or nil.
func (rs *Ruleset) Map(name string) *Map {
	for _, m := range rs.Maps {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// Chain returns the chain named name, or nil.
func (rs *Ruleset) Chain(name string) *Chain {
	for _, c := range rs.Chains {
		if c.Name == name {
			return c
		}
	}
	return nil
}
