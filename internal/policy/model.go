package policy

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/leash-dev/leash/internal/cgroups"
	"github.com/leash-dev/leash/internal/ruleset"
)

// Pos is a position in a policy file. Line and Col are 1-based.
type Pos struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Col  int    `json:"col"`
}

// String formats the position as FILE:LINE:COL.
func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// Action is what a rule or a policy default does with a connection.
type Action string

// Actions. Deny drops silently; Reject answers with a TCP reset for TCP and
// ICMP administratively-prohibited otherwise, so clients fail fast.
const (
	Allow  Action = "allow"
	Deny   Action = "deny"
	Reject Action = "reject"
)

// UnownedMode says how packets without an owning socket are judged.
type UnownedMode string

// Unowned modes; see docs/security.md "packets without an owner".
const (
	// UnownedEveryone (default): packets of known connections (ct established,
	// related) and IPv6 neighbour discovery, MLD and IGMP pass; everything else
	// is judged by the everyone policy, or allowed when there is none.
	UnownedEveryone UnownedMode = "everyone"
	// UnownedAllow: all packets without an owner pass.
	UnownedAllow UnownedMode = "allow"
	// UnownedDeny: only packets of known connections and link-local control
	// (ND, MLD, IGMP) pass; everything else is dropped.
	UnownedDeny UnownedMode = "deny"
)

// MulticastMode says how ownerless multicast membership reports (IGMP, MLD),
// which the kernel sends for any socket's group joins and leaves, pass the
// unowned exception. The group addresses in them are chosen by whoever
// joins, so unlimited they are a covert channel out of any policy.
type MulticastMode string

// Multicast report modes; see docs/security.md "packets without an owner".
const (
	// MulticastLimit (default): they pass at a bounded rate per type
	// (MulticastRate), beyond it they are judged like other unowned packets.
	MulticastLimit MulticastMode = "limit"
	// MulticastDeny: they are judged like other unowned packets (with
	// unowned: deny, dropped; multicast membership then breaks for the
	// whole host, including MLD snooping of solicited-node groups).
	MulticastDeny MulticastMode = "deny"
	// MulticastAllow: they all pass (the channel is open).
	MulticastAllow MulticastMode = "allow"
)

// The rate at which MulticastLimit lets reports pass, per type (IGMP, MLD):
// a host re-reports its groups when a querier asks (every 125 s by
// default) and once or twice when it joins or leaves one.
const (
	MulticastRate  = 1 // packets per second
	MulticastBurst = 10
)

// LoopbackMode says what a policy's subjects may reach on this host itself
// (every packet leaving through `lo`, which includes the host's own addresses).
type LoopbackMode string

// Loopback modes.
const (
	LoopbackAll   LoopbackMode = "all"   // everything on this host
	LoopbackNone  LoopbackMode = "none"  // nothing on this host
	LoopbackPorts LoopbackMode = "ports" // only the listed ports
	// LoopbackRules: loopback traffic goes through the policy's rules and
	// default like any other destination.
	LoopbackRules LoopbackMode = "rules"
)

// Loopback is a policy's loopback access.
type Loopback struct {
	Mode   LoopbackMode `json:"mode"`
	Protos []ProtoSpec  `json:"protos,omitempty"` // LoopbackPorts only
	Pos    Pos          `json:"pos"`
}

// Resolved is a validated policy file with every name resolved: users and
// groups to ids, hostnames and named lists to merged prefixes, services to
// port numbers. It is the input of compile.Compile, which is pure; all
// lookups (passwd, group, DNS, /etc/services) happen before it.
type Resolved struct {
	File     string            `json:"file"`
	Baseline Baseline          `json:"baseline"`
	Policies []*ResolvedPolicy `json:"policies"`
	// Hosts records what every hostname in the file resolved to, for `plan`.
	Hosts map[string][]netip.Addr `json:"hosts,omitempty"`
	// DNSServers are the DNS servers leash's own lookups go to (the
	// resolver's, when it is a resolve.ServerLister): the compiler exempts
	// leash's marked DNS traffic to them from the policy (compile.DNSMark).
	DNSServers []netip.AddrPort `json:"dns_servers,omitempty"`
	// Warnings are problems of the environment that did not stop the
	// compile (malformed /etc/services lines, a missing /etc/services),
	// one sentence each, for the caller to show.
	Warnings []string `json:"warnings,omitempty"`
	// Lint are the warnings about the file itself (see Warning), in file
	// order.
	Lint []Warning `json:"lint,omitempty"`
	// Cgroups are the ids of the cgroups CgroupPlan classifies, read when
	// the policy was loaded (units.go).
	Cgroups cgroups.Snapshot `json:"cgroups,omitempty"`
	// At is the time the file was loaded (Env.Clock), from which time
	// windows are compiled (internal/compile/when.go); zero when the file
	// has no `when`.
	At time.Time `json:"at,omitempty"`
}

// Baseline holds the defaults that apply before and around all policies.
type Baseline struct {
	// Loopback is the default loopback access of every policy.
	Loopback Loopback `json:"loopback"`
	// Established is the default of every policy's Established.
	Established    bool `json:"established"`
	EstablishedPos Pos  `json:"established_pos"` // no line when implicit
	// Unowned says how packets without an owning socket are judged.
	Unowned UnownedMode `json:"unowned"`
	// MulticastReports says how the kernel's ownerless IGMP and MLD
	// membership reports pass the unowned exception.
	MulticastReports MulticastMode `json:"multicast_reports"`
	// Log says where and how fast denials are logged.
	Log LogSettings `json:"log"`
	Pos Pos         `json:"pos"`
	// OrphanMark is the conntrack mark bits of the orphan tag (0: off);
	// MPTCPJoins what becomes of ownerless MPTCP joins (orphans.go).
	OrphanMark    uint32    `json:"orphan_mark"`
	OrphanMarkPos Pos       `json:"orphan_mark_pos"` // no line when implicit
	MPTCPJoins    MPTCPMode `json:"mptcp_joins"`
	MPTCPJoinsPos Pos       `json:"mptcp_joins_pos"` // no line when implicit
}

// ResolvedPolicy is one policy with its subjects expanded to ids.
type ResolvedPolicy struct {
	Name string `json:"name"`
	Pos  Pos    `json:"pos"`

	// UIDs are the users the policy names directly (names, uids, ranges).
	UIDs []ruleset.Range `json:"uids,omitempty"`
	// GIDs are the groups the policy names; matched on the socket's gid.
	GIDs []uint32 `json:"gids,omitempty"`
	// MemberUIDs are the uids of all members of GIDs: users whose primary
	// group it is and users who list it as a supplementary group.
	MemberUIDs []ruleset.Range `json:"member_uids,omitempty"`
	// Everyone marks the catch-all policy.
	Everyone bool `json:"everyone,omitempty"`
	// Cgroups are the cgroups the policy governs (units.go): their
	// programs are judged by this policy whatever user they run as.
	Cgroups []CgroupSubject `json:"cgroups,omitempty"`

	Rules   []*ResolvedRule `json:"rules,omitempty"`
	Default Action          `json:"default"`
	// DefaultPos is where the default was written (the policy's position if implicit).
	DefaultPos Pos `json:"default_pos"`

	Loopback Loopback `json:"loopback"`
	// Established: the subjects' packets that reply on connections others
	// opened to them (ct direction reply) pass without consulting the rules.
	Established    bool `json:"established"`
	EstablishedPos Pos  `json:"established_pos"` // no line when implicit

	// Log: denials by the default are logged (true unless `log: false`).
	Log    bool `json:"log"`
	LogPos Pos  `json:"log_pos"` // no line when implicit

	// Forwarded traffic (hosts.go): the source prefixes, MACs and
	// incoming interfaces (names and patterns) whose forwarded packets
	// this policy judges.
	SourceV4   []netip.Prefix `json:"source_v4,omitempty"`
	SourceV6   []netip.Prefix `json:"source_v6,omitempty"`
	MACs       []string       `json:"macs,omitempty"`
	Interfaces []string       `json:"interfaces,omitempty"`
	// When is the window of every rule of the policy (when.go), nil for always.
	When *When `json:"when,omitempty"`
}

// ResolvedRule is one rule of a policy.
type ResolvedRule struct {
	Index  int    `json:"index"` // 1-based within the policy
	Pos    Pos    `json:"pos"`
	Action Action `json:"action"`
	Text   string `json:"text"` // the rule as written, on one line
	// To is nil for "any destination"; otherwise the merged destination
	// prefixes. A family with no prefixes matches nothing in that family.
	To *Destinations `json:"to,omitempty"`
	// Protos is nil for "any protocol, any port".
	Protos []ProtoSpec `json:"protos,omitempty"`
	// Log: this rule's denials are logged (deny and reject rules only).
	Log bool `json:"log,omitempty"`
	// Via: an allow rule matches only packets that leave through one of
	// these interfaces (names or patterns); nil for any.
	Via []string `json:"via,omitempty"`
	// When is the rule's own window (when.go), nil for always.
	When *When `json:"when,omitempty"`
	// Limit caps the new connections the rule allows (ratelimit.go).
	Limit *Limit `json:"limit,omitempty"`
}

// Destinations are merged, sorted, non-overlapping prefixes per family.
// Rules whose `to` is the same single list share one Destinations: it is
// read-only.
type Destinations struct {
	V4 []netip.Prefix `json:"v4,omitempty"`
	V6 []netip.Prefix `json:"v6,omitempty"`
	// Hosts are the hostnames (lower case, no final dot) whose addresses
	// are among the prefixes, directly or through lists, sorted: with
	// Resolved.Hosts they say which addresses came from which name (for
	// plan, check and the daemon's refresher; the compiler merges them
	// into the shared lookups like any address).
	Hosts []string `json:"hosts,omitempty"`
}

// ProtoSpec matches one IP protocol and optionally its ports or ICMP types.
type ProtoSpec struct {
	Proto uint8 `json:"proto"` // ruleset.ProtoTCP, ProtoUDP, ProtoICMP, ProtoICMPv6
	// Ports (TCP, UDP): nil means any port. Merged and sorted.
	Ports []ruleset.Range `json:"ports,omitempty"`
	// Types (ICMP, ICMPv6): nil means any type. Merged and sorted.
	Types []ruleset.Range `json:"types,omitempty"`
}
