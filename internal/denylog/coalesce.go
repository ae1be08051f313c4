package denylog

import (
	"net/netip"
	"slices"
	"time"
)

// Coalescing defaults.
const (
	// DefaultWindow: a packet continues an attempt when it comes at most
	// this long after the attempt's previous packet. TCP retransmits an
	// unanswered SYN after 1 s and 3 s, so a dropped connect's first three
	// SYNs make one attempt; the later, rarer ones (7 s, 15 s, ...) each
	// make a line of their own.
	DefaultWindow = 3 * time.Second
	// DefaultMaxSpan ends an attempt this long after its first packet even
	// while packets keep coming, so a steady flood from one socket still
	// produces a line every DefaultMaxSpan instead of never.
	DefaultMaxSpan = 30 * time.Second
	// DefaultMaxOpen bounds the attempts held open at once; beyond it the
	// oldest is closed early.
	DefaultMaxOpen = 65536
)

// attemptKey identifies the packets of one attempt: the same socket owner,
// protocol, source and destination (ports included), judged by the same
// rule. A new connection normally has a new source port, so it is a new
// attempt even to the same destination.
type attemptKey struct {
	uid      uint32
	hasUID   bool
	proto    string
	src, dst netip.AddrPort
	icmp     ICMP
	rule     string
}

func keyOf(e *Event) attemptKey {
	k := attemptKey{proto: e.Proto, src: e.Src, dst: e.Dst, rule: e.RuleID}
	if e.UID != nil {
		k.uid, k.hasUID = *e.UID, true
	}
	if e.ICMP != nil {
		k.icmp = *e.ICMP
	}
	return k
}

// Coalescer folds the logged packets of one connection attempt (SYN
// retransmissions, a burst of datagrams from one socket) into one Event with
// Attempts counting the packets. An attempt is emitted once it is over: no
// packet for Window, or MaxSpan since it began. It is not safe for concurrent
// use.
type Coalescer struct {
	Window, MaxSpan time.Duration
	MaxOpen         int

	open  map[attemptKey]*Event
	order []opened // attempts in the order they opened; may hold closed ones
}

// opened is an entry of Coalescer.order; it is stale once open[key] != e.
type opened struct {
	key attemptKey
	e   *Event
}

// NewCoalescer returns a Coalescer with the default window, span and bound.
func NewCoalescer() *Coalescer {
	return &Coalescer{Window: DefaultWindow, MaxSpan: DefaultMaxSpan, MaxOpen: DefaultMaxOpen}
}

// Fold adds a packet to the open attempt it continues and reports true, or
// reports false when it starts a new attempt (then call Open with the
// enriched event). Only e's time and key fields are read.
func (c *Coalescer) Fold(e *Event) bool {
	a, ok := c.open[keyOf(e)]
	if !ok || !c.continues(a, e.Time) {
		return false
	}
	a.Attempts++
	if e.Time.After(a.Last) {
		a.Last = e.Time
	}
	return true
}

// continues reports whether a packet at t belongs to attempt a.
func (c *Coalescer) continues(a *Event, t time.Time) bool {
	return t.Sub(a.Last) <= c.Window && t.Sub(a.Time) < c.MaxSpan
}

// Open starts a new attempt with e (Attempts is set to 1) and returns the
// attempts it had to close: the previous attempt with the same key, and the
// oldest open one when MaxOpen is reached.
func (c *Coalescer) Open(e *Event) []*Event {
	if c.open == nil {
		c.open = map[attemptKey]*Event{}
	}
	var closed []*Event
	k := keyOf(e)
	if prev, ok := c.open[k]; ok {
		closed = append(closed, prev)
		delete(c.open, k)
	}
	for c.MaxOpen > 0 && len(c.open) >= c.MaxOpen {
		oldest := c.closeOldest()
		if oldest == nil {
			break
		}
		closed = append(closed, oldest)
	}
	e.Attempts, e.Last = 1, e.Time
	c.open[k] = e
	c.order = append(c.order, opened{k, e})
	return finish(closed)
}

// closeOldest removes and returns the attempt that opened first.
func (c *Coalescer) closeOldest() *Event {
	for len(c.order) > 0 {
		o := c.order[0]
		c.order = c.order[1:]
		if c.open[o.key] == o.e {
			delete(c.open, o.key)
			return o.e
		}
	}
	return nil
}

// Expire closes and returns, oldest first, the attempts that are over at now.
func (c *Coalescer) Expire(now time.Time) []*Event {
	var closed []*Event
	for k, e := range c.open {
		if !c.continues(e, now) {
			closed = append(closed, e)
			delete(c.open, k)
		}
	}
	c.compact()
	return finish(closed)
}

// Flush closes and returns every open attempt, oldest first.
func (c *Coalescer) Flush() []*Event {
	var closed []*Event
	for _, e := range c.open {
		closed = append(closed, e)
	}
	clear(c.open)
	c.order = c.order[:0]
	return finish(closed)
}

// Len is the number of open attempts.
func (c *Coalescer) Len() int { return len(c.open) }

// compact drops stale keys from order once they dominate it.
func (c *Coalescer) compact() {
	if len(c.order) <= 2*len(c.open)+64 {
		return
	}
	live := c.order[:0]
	for _, o := range c.order {
		if c.open[o.key] == o.e {
			live = append(live, o)
		}
	}
	c.order = live
}

// finish sorts closed attempts by start time and clears Last on
// single-packet attempts (it equals Time).
func finish(es []*Event) []*Event {
	slices.SortStableFunc(es, func(a, b *Event) int { return a.Time.Compare(b.Time) })
	for _, e := range es {
		if e.Attempts <= 1 {
			e.Last = time.Time{}
		}
	}
	return es
}
