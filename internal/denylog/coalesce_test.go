package denylog

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// t0 is in the past, so files written now are newer than any test time.
var t0 = time.Date(2020, 11, 21, 12, 0, 0, 0, time.UTC)

func uid(n uint32) *uint32 { return &n }

// pkt is a logged packet at offset ms from t0.
func pkt(ms int, u uint32, src, dst, rule string) *Event {
	return &Event{Time: t0.Add(time.Duration(ms) * time.Millisecond), UID: uid(u), Proto: "tcp", Src: ap(src), Dst: ap(dst), RuleID: rule}
}

// attempt is what an emitted attempt should look like: its first packet's
// offset, last packet's offset (-1 for none) and packet count.
type attempt struct {
	First, Last, Attempts int
	Src                   string
}

func summarize(es []*Event) []attempt {
	var out []attempt
	for _, e := range es {
		last := -1
		if !e.Last.IsZero() {
			last = int(e.Last.Sub(t0) / time.Millisecond)
		}
		out = append(out, attempt{int(e.Time.Sub(t0) / time.Millisecond), last, e.Attempts, e.Src.String()})
	}
	return out
}

// feed runs packets through c the way the pipeline does, expiring at each
// packet's time, and flushes at the end.
func feed(c *Coalescer, ps []*Event) []*Event {
	var out []*Event
	for _, p := range ps {
		out = append(out, c.Expire(p.Time)...)
		if !c.Fold(p) {
			out = append(out, c.Open(p)...)
		}
	}
	return append(out, c.Flush()...)
}

func TestCoalescer(t *testing.T) {
	const a, b, dst = "10.0.0.1:40000", "10.0.0.1:40001", "192.0.2.1:443"
	tests := []struct {
		name    string
		c       *Coalescer
		packets []*Event
		want    []attempt
	}{
		{
			name:    "one packet",
			packets: []*Event{pkt(0, 1000, a, dst, "p/r1")},
			want:    []attempt{{0, -1, 1, a}},
		},
		{
			name: "SYN retransmissions at 1 s and 3 s fold; 7 s starts a new attempt",
			packets: []*Event{
				pkt(0, 1000, a, dst, "p/r1"), pkt(1000, 1000, a, dst, "p/r1"), pkt(3000, 1000, a, dst, "p/r1"),
				pkt(7000, 1000, a, dst, "p/r1"),
			},
			want: []attempt{{0, 3000, 3, a}, {7000, -1, 1, a}},
		},
		{
			name: "another source port is another attempt",
			packets: []*Event{
				pkt(0, 1000, a, dst, "p/r1"), pkt(10, 1000, b, dst, "p/r1"), pkt(20, 1000, a, dst, "p/r1"),
			},
			want: []attempt{{0, 20, 2, a}, {10, -1, 1, b}},
		},
		{
			name: "another uid or rule is another attempt",
			packets: []*Event{
				pkt(0, 1000, a, dst, "p/r1"), pkt(1, 1001, a, dst, "p/r1"), pkt(2, 1000, a, dst, "p/r2"),
			},
			want: []attempt{{0, -1, 1, a}, {1, -1, 1, a}, {2, -1, 1, a}},
		},
		{
			name: "a steady flood ends an attempt every MaxSpan",
			c:    &Coalescer{Window: 3 * time.Second, MaxSpan: 10 * time.Second},
			packets: func() []*Event {
				var ps []*Event
				for ms := 0; ms < 25000; ms += 500 {
					ps = append(ps, pkt(ms, 1000, a, dst, "p/r1"))
				}
				return ps
			}(),
			want: []attempt{{0, 9500, 20, a}, {10000, 19500, 20, a}, {20000, 24500, 10, a}},
		},
		{
			name: "MaxOpen closes the oldest attempt early",
			c:    &Coalescer{Window: 3 * time.Second, MaxSpan: 30 * time.Second, MaxOpen: 2},
			packets: []*Event{
				pkt(0, 1000, a, dst, "p/r1"), pkt(1, 1000, b, dst, "p/r1"), pkt(2, 1000, "10.0.0.1:40002", dst, "p/r1"),
				pkt(3, 1000, a, dst, "p/r1"),
			},
			want: []attempt{{0, -1, 1, a}, {1, -1, 1, b}, {2, -1, 1, "10.0.0.1:40002"}, {3, -1, 1, a}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.c
			if c == nil {
				c = NewCoalescer()
			}
			got := summarize(feed(c, tt.packets))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("attempts (-want +got):\n%s", diff)
			}
			if c.Len() != 0 {
				t.Errorf("%d attempts still open after Flush", c.Len())
			}
		})
	}
}

func TestCoalescerExpire(t *testing.T) {
	c := NewCoalescer()
	c.Open(pkt(0, 1000, "10.0.0.1:1", "192.0.2.1:2", "p/r1"))
	if got := c.Expire(t0.Add(DefaultWindow)); len(got) != 0 {
		t.Fatalf("expired at exactly Window: %v", summarize(got))
	}
	if got := c.Expire(t0.Add(DefaultWindow + time.Millisecond)); len(got) != 1 {
		t.Fatalf("not expired after Window: %d", len(got))
	}
}

func TestSeqTracker(t *testing.T) {
	tests := []struct {
		name  string
		start uint32 // the tracker's expected number, as if that many came before
		seqs  []uint32
		want  []uint64
	}{
		{name: "in order from 0", seqs: []uint32{0, 1, 2, 3}, want: []uint64{0, 0, 0, 0}},
		{name: "first messages lost", seqs: []uint32{3, 4}, want: []uint64{3, 0}},
		{name: "gaps", seqs: []uint32{0, 5, 6, 100}, want: []uint64{0, 4, 0, 93}},
		{name: "wraps", start: 1<<32 - 2, seqs: []uint32{1<<32 - 2, 1<<32 - 1, 0, 3}, want: []uint64{0, 0, 0, 2}},
		{name: "gap across the wrap", start: 1<<32 - 2, seqs: []uint32{1}, want: []uint64{3}},
		{name: "behind is ignored", seqs: []uint32{0, 1, 2, 1, 3}, want: []uint64{0, 0, 0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := SeqTracker{next: tt.start}
			var got []uint64
			for _, q := range tt.seqs {
				got = append(got, s.Observe(q))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("lost (-want +got):\n%s", diff)
			}
		})
	}
}
