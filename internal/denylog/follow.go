package denylog

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"
)

// DefaultPoll is how often Follow looks for new history lines.
const DefaultPoll = 250 * time.Millisecond

// Follow tails the history in dir the way `tail -F` would, across segment
// rotation: first the records that ended at or after since (none when since
// is zero: only new ones), then every record appended, until ctx is done.
// It polls every poll (0: DefaultPoll); a collector writes at most every
// DefaultTick anyway.
func Follow(ctx context.Context, dir string, since time.Time, poll time.Duration, fn func(Record) error) error {
	if poll <= 0 {
		poll = DefaultPoll
	}
	t, err := newTail(dir, since)
	if err != nil {
		return err
	}
	for {
		if err := t.step(fn); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(poll):
		}
	}
}

// tail is a reading position in a history directory.
type tail struct {
	dir   string
	since time.Time
	cur   segment // zero until a segment exists
	off   int64
}

// newTail starts at the first segment written since since, or at the end of
// the last segment when since is zero.
func newTail(dir string, since time.Time) (*tail, error) {
	t := &tail{dir: dir, since: since}
	segs, err := listSegments(dir)
	if err != nil || len(segs) == 0 {
		return t, err
	}
	if since.IsZero() {
		t.cur, t.off = segs[len(segs)-1], segs[len(segs)-1].size
		return t, nil
	}
	t.cur = segs[len(segs)-1]
	for _, s := range segs {
		if !s.modTime.Before(since) {
			t.cur = s
			break
		}
	}
	return t, nil
}

// step reads everything appended since the last step, moving on to newer
// segments as the collector rotates.
func (t *tail) step(fn func(Record) error) error {
	for {
		if err := t.readCur(fn); err != nil {
			return err
		}
		next, err := t.next()
		if err != nil || next.name == "" {
			return err
		}
		// The collector finishes a segment before it creates the next, but
		// it may have written to cur between the read above and the
		// listing: read cur to its end once more before moving on.
		if err := t.readCur(fn); err != nil {
			return err
		}
		t.cur, t.off = next, 0
	}
}

// readCur reads the complete lines of the current segment after off; a
// segment pruned meanwhile reads as empty.
func (t *tail) readCur(fn func(Record) error) error {
	if t.cur.name == "" {
		return nil
	}
	res, err := readSegment(filepath.Join(t.dir, t.cur.name), t.off, t.since, fn)
	t.off += res.consumed
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// next returns the segment after the current one, or a zero segment.
func (t *tail) next() (segment, error) {
	segs, err := listSegments(t.dir)
	if err != nil {
		return segment{}, err
	}
	for _, s := range segs {
		if s.num > t.cur.num {
			return s, nil
		}
	}
	return segment{}, nil
}
