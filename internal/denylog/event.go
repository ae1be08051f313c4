// Package denylog turns the kernel's log of denied packets into one line per
// denied connection attempt: who (uid, user, process, unit), where to
// (address, port, hostname), and which policy rule decided.
//
// The compiled ruleset puts, directly before each logged drop or reject,
//
//	[the deny rule's matches] limit rate R/second burst B packets counter log prefix "leash <rule-id> <verdict>" group G snaplen 128
//
// so the kernel sends the packet's headers, the socket's uid/gid (NFLOG
// includes them whenever the packet has a full socket with a file; there is
// no flag for it) and the prefix to NFLOG group G (DefaultGroup unless the
// policy file says otherwise). The path from there is:
//
//	Reader (NFLOG over netlink)  ->  Pipeline (decode, coalesce, enrich)  ->  sink
//
// The sink is the on-disk History of a long-running collector (`leash log
// collect`) or the terminal (`leash log -f` when no collector runs). Only one
// socket can bind an NFLOG group in a network namespace, hence the collector
// owns the group and everybody else reads its history.
//
// Nothing is lost silently: the reader asks the kernel for per-message
// sequence numbers, and every gap (messages the kernel could not queue on the
// socket) becomes a Loss record in the same stream as the events.
package denylog

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	"github.com/leash-dev/leash/internal/ruleset"
)

// DefaultGroup is the NFLOG group leash's rules log to when the policy file
// names none.
const DefaultGroup = ruleset.DefaultLogGroup

// Record types, the "type" field of every JSON line.
const (
	TypeDeny = "deny" // an Event
	TypeLost = "lost" // a Loss
)

// Event is one denied connection attempt: one or more logged packets with
// the same uid, protocol, source, destination and rule (see Coalescer).
// Fields the kernel or the host could not supply are zero.
type Event struct {
	Type string    `json:"type"` // TypeDeny
	Time time.Time `json:"time"` // the attempt's first packet
	// Last is the attempt's last packet, when Attempts > 1.
	Last time.Time `json:"last,omitzero"`

	// The socket's owner as the kernel logged it (fsuid/fsgid of the task
	// that created the socket); nil for packets without a full socket.
	UID  *uint32 `json:"uid,omitempty"`
	User string  `json:"user,omitempty"`
	GID  *uint32 `json:"gid,omitempty"`

	// The process holding the socket, found after the fact (best effort).
	PID  int    `json:"pid,omitempty"`
	Comm string `json:"comm,omitempty"`
	Exe  string `json:"exe,omitempty"`
	Unit string `json:"unit,omitempty"` // systemd unit or cgroup

	Family string         `json:"family"` // "ipv4" or "ipv6"
	Proto  string         `json:"proto"`  // "tcp", "udp", "udplite", "sctp", "dccp", "icmp", "icmpv6", or the number
	Src    netip.AddrPort `json:"src"`
	// A forwarded packet's incoming interface and source MAC (forward.go).
	InIf string         `json:"in,omitempty"`
	MAC  string         `json:"mac,omitempty"`
	Dst  netip.AddrPort `json:"dst"` // port 0 for protocols without ports
	ICMP *ICMP          `json:"icmp,omitempty"`

	RuleID  string `json:"rule"`    // ruleset.Origin.ID of the deciding rule
	Verdict string `json:"verdict"` // "drop" or "reject"
	Policy  string `json:"policy,omitempty"`
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Text    string `json:"text,omitempty"` // the policy source of the rule

	Hostnames []string `json:"hostnames,omitempty"` // names that resolved to Dst at apply time
	Attempts  int      `json:"attempts"`            // packets folded into this attempt
	// Phase says which record of an attempt this is. An attempt is
	// reported at once, at its first packet (PhaseFirst, Attempts 1), and
	// again when it is over if more packets came (PhaseMore: Attempts and
	// Last complete the first record). "" in histories written before:
	// the attempt's only, complete record.
	Phase string `json:"phase,omitempty"`
	// Note says what is missing and why (truncated headers, a fragment,
	// process lookup skipped under load).
	Note string `json:"note,omitempty"`
}

// The phases of an attempt's records (Event.Phase).
const (
	PhaseFirst = "first"
	PhaseMore  = "more"
)

// ICMP is the type and code of an ICMP or ICMPv6 packet, in place of ports.
type ICMP struct {
	Type uint8 `json:"type"`
	Code uint8 `json:"code"`
}

// Loss reports messages the kernel logged but leash never received.
type Loss struct {
	Type string    `json:"type"` // TypeLost
	Time time.Time `json:"time"`
	// Lost is the number of messages missing from the kernel's sequence
	// since the previous Loss record. Zero when an overflow was signalled
	// but no later message arrived to measure the gap.
	Lost uint64 `json:"lost"`
	// Overruns is how many times the socket reported ENOBUFS meanwhile.
	Overruns uint64 `json:"overruns,omitempty"`
	Reason   string `json:"reason"`
}

// Reasons a Loss gives.
const (
	ReasonOverflow = "receive queue overflow"
	ReasonUnknown  = "receive queue overflow; how many is unknown (no message arrived after it)"
)

// Record is one line of the log: an Event or a Loss.
type Record struct {
	Event *Event
	Loss  *Loss
}

// Time is when the record happened.
func (r Record) Time() time.Time {
	if r.Loss != nil {
		return r.Loss.Time
	}
	if r.Event != nil {
		return r.Event.Time
	}
	return time.Time{}
}

// End is when the record's last packet was logged: an attempt's Last, or
// its Time when it had one packet.
func (r Record) End() time.Time {
	if r.Event != nil && r.Event.Last.After(r.Event.Time) {
		return r.Event.Last
	}
	return r.Time()
}

// MarshalJSON encodes the record as its Event or Loss.
func (r Record) MarshalJSON() ([]byte, error) {
	switch {
	case r.Event != nil:
		e := *r.Event
		e.Type = TypeDeny
		return json.Marshal(e)
	case r.Loss != nil:
		l := *r.Loss
		l.Type = TypeLost
		return json.Marshal(l)
	}
	return nil, fmt.Errorf("denylog: empty record")
}

// UnmarshalJSON decodes a line written by MarshalJSON.
func (r *Record) UnmarshalJSON(b []byte) error {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return err
	}
	*r = Record{}
	switch head.Type {
	case TypeDeny:
		r.Event = &Event{}
		return json.Unmarshal(b, r.Event)
	case TypeLost:
		r.Loss = &Loss{}
		return json.Unmarshal(b, r.Loss)
	}
	return fmt.Errorf("denylog: unknown record type %q", head.Type)
}
