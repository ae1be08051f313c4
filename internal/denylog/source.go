package denylog

import (
	"time"
)

// Message is one NFLOG message as a Source received it.
type Message struct {
	Time    time.Time // when it was read (the kernel stamps no time on output packets)
	Prefix  string
	Payload []byte  // the packet from its network header on, cut at the copy range
	UID     *uint32 // the socket's owner, when the packet had a full socket with a file
	GID     *uint32
	// Forwarded (and received) packets: the interface the packet came in
	// on, by name (or "ifN"), and its link-layer source address.
	InIf string
	MAC  string
}

// Counters are a Source's running totals since it was opened.
type Counters struct {
	Received uint64 `json:"received"` // messages delivered
	Lost     uint64 `json:"lost"`     // messages missing from the kernel's sequence numbers
	Overruns uint64 `json:"overruns"` // times the socket reported ENOBUFS (its queue overflowed)
}

// Source delivers the messages of one NFLOG group.
type Source interface {
	// Messages delivers the messages; it is never closed.
	Messages() <-chan Message
	// Done is closed when the source stops (Close, or a receive error: see
	// Err). Messages may still hold messages received before.
	Done() <-chan struct{}
	Counters() Counters
	// Err is why the source stopped on its own; nil after Close.
	Err() error
	Close() error
}

// SeqTracker counts the messages missing from a sequence of NFLOG sequence
// numbers. The kernel numbers every message of a group instance from 0 when
// the group is bound, and a message it cannot queue on the socket (full
// receive buffer) is dropped with its number; so each gap is a lost message.
// A gap after the last message received cannot be seen until another one
// arrives. It is not safe for concurrent use.
type SeqTracker struct {
	next uint32
}

// Observe takes the next message's sequence number and returns how many
// messages were lost before it. A number behind the expected one (not
// possible from one kernel instance) is ignored.
func (s *SeqTracker) Observe(seq uint32) uint64 {
	gap := seq - s.next // modulo 2^32: the counter wraps
	if gap >= 1<<31 {
		return 0
	}
	s.next = seq + 1
	return uint64(gap)
}
