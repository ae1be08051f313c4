package denylog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// History limits by default: 16 segments of 8 MiB, at most 128 MiB. At
// roughly 500 bytes a line that is some 250,000 denied attempts.
const (
	DefaultSegmentBytes = 8 << 20
	DefaultMaxSegments  = 16
	DefaultMaxBytes     = 128 << 20
)

// segmentExt ends the name of every history segment.
const segmentExt = ".jsonl"

// HistoryLimits bound the on-disk history. Zero fields take the defaults.
type HistoryLimits struct {
	SegmentBytes int64 // a segment is closed once it reaches this size
	MaxSegments  int   // the oldest segments are deleted beyond this many
	MaxBytes     int64 // ... or beyond this many bytes in all
}

func (l HistoryLimits) withDefaults() HistoryLimits {
	if l.SegmentBytes <= 0 {
		l.SegmentBytes = DefaultSegmentBytes
	}
	if l.MaxSegments <= 0 {
		l.MaxSegments = DefaultMaxSegments
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	l.SegmentBytes = min(l.SegmentBytes, l.MaxBytes)
	return l
}

// History appends records to a directory of JSON-lines segment files,
// 000000000001.jsonl, 000000000002.jsonl, ..., one record a line, oldest
// first. The last segment is the one being written; when it would pass
// SegmentBytes a new one is started and the oldest are deleted until at most
// MaxSegments remain and, counting the new one as full, at most MaxBytes
// (the segment being written is never deleted). So the directory never
// holds more than MaxBytes of history (one record longer than a segment
// excepted).
//
// Durability: records are written with one write(2) each, in append mode,
// so a reader never sees a torn line except the last, still being written
// (readers skip an unterminated last line). Sync, which the collector calls
// at most every DefaultTick when something was written, fsyncs; a segment is
// fsynced before the next starts. A crash of the collector loses nothing it
// wrote; a crash of the machine loses at most the records of the last tick.
// A torn last line from such a crash is cut off when the history is opened
// again.
type History struct {
	dir   string
	lim   HistoryLimits
	f     *os.File
	num   int
	size  int64
	dirty bool
}

// OpenHistory opens the history in dir for appending, creating dir (mode
// 0700: the log says who connected where) if needed. It continues the last
// segment while it is below the size limit.
func OpenHistory(dir string, lim HistoryLimits) (*History, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("denylog: history: %w", err)
	}
	h := &History{dir: dir, lim: lim.withDefaults()}
	segs, err := listSegments(dir)
	if err != nil {
		return nil, err
	}
	if n := len(segs); n > 0 && segs[n-1].size < h.lim.SegmentBytes {
		return h, h.continueSegment(segs[n-1])
	}
	next := 1
	if n := len(segs); n > 0 {
		next = segs[n-1].num + 1
	}
	return h, h.startSegment(next)
}

// continueSegment opens s for appending after cutting off a torn last line.
func (h *History) continueSegment(s segment) error {
	f, err := openNoFollow(filepath.Join(h.dir, s.name), os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("denylog: history: %w", err)
	}
	size, err := completeLines(f, s.size)
	if err == nil && size != s.size {
		err = f.Truncate(size)
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("denylog: history: repair %s: %w", s.name, err)
	}
	h.f, h.num, h.size = f, s.num, size
	return nil
}

// completeLines returns the length of f's content up to its last newline.
func completeLines(f *os.File, size int64) (int64, error) {
	const chunk = 64 << 10
	for end := size; end > 0; {
		start := max(0, end-chunk)
		buf := make([]byte, end-start)
		if _, err := f.ReadAt(buf, start); err != nil {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
			return start + int64(i) + 1, nil
		}
		end = start
	}
	return 0, nil
}

// startSegment creates segment num and makes it the one written.
func (h *History) startSegment(num int) error {
	name := segmentName(num)
	f, err := openNoFollow(filepath.Join(h.dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("denylog: history: %w", err)
	}
	h.f, h.num, h.size = f, num, 0
	syncDir(h.dir)
	return nil
}

// Write appends r as one line, starting a new segment first when the current
// one is full.
func (h *History) Write(r Record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("denylog: history: encode: %w", err)
	}
	if h.size > 0 && h.size+int64(len(b))+1 > h.lim.SegmentBytes {
		if err := h.rotate(); err != nil {
			return err
		}
	}
	n, err := h.f.Write(append(b, '\n'))
	h.size += int64(n)
	h.dirty = true
	if err != nil {
		return fmt.Errorf("denylog: history: write %s: %w", h.f.Name(), err)
	}
	return nil
}

// rotate closes the current segment, starts the next and prunes old ones.
func (h *History) rotate() error {
	if err := h.closeSegment(); err != nil {
		return err
	}
	if err := h.startSegment(h.num + 1); err != nil {
		return err
	}
	return h.prune()
}

// prune deletes the oldest segments beyond the limits, never the current.
// The current segment counts as full, so the history stays within MaxBytes
// while it grows.
func (h *History) prune() error {
	segs, err := listSegments(h.dir)
	if err != nil {
		return err
	}
	var total int64
	for _, s := range segs {
		if s.num == h.num {
			total += h.lim.SegmentBytes
		} else {
			total += s.size
		}
	}
	for len(segs) > 1 && (len(segs) > h.lim.MaxSegments || total > h.lim.MaxBytes) {
		if err := os.Remove(filepath.Join(h.dir, segs[0].name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("denylog: history: prune: %w", err)
		}
		total -= segs[0].size
		segs = segs[1:]
	}
	return nil
}

// Sync makes what was written durable (fsync), if anything was.
func (h *History) Sync() error {
	if !h.dirty {
		return nil
	}
	if err := h.f.Sync(); err != nil {
		return fmt.Errorf("denylog: history: sync %s: %w", h.f.Name(), err)
	}
	h.dirty = false
	return nil
}

// Close syncs and closes the history.
func (h *History) Close() error {
	if h.f == nil {
		return nil
	}
	return h.closeSegment()
}

func (h *History) closeSegment() error {
	h.dirty = true
	err := h.Sync()
	if cerr := h.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("denylog: history: %w", cerr)
	}
	h.f = nil
	return err
}

// syncDir makes a new directory entry durable; best effort.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// segment is one history file.
type segment struct {
	name    string
	num     int
	size    int64
	modTime time.Time
}

func segmentName(num int) string { return fmt.Sprintf("%012d%s", num, segmentExt) }

// listSegments returns the segments in dir, oldest first; none when dir
// does not exist.
func listSegments(dir string) ([]segment, error) {
	if err := trustedDir(dir); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("denylog: history: %w", err)
	}
	var segs []segment
	for _, e := range entries {
		base, ok := strings.CutSuffix(e.Name(), segmentExt)
		num, err := strconv.Atoi(base)
		if !ok || err != nil || num <= 0 || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // deleted meanwhile
		}
		segs = append(segs, segment{name: e.Name(), num: num, size: info.Size(), modTime: info.ModTime()})
	}
	slices.SortFunc(segs, func(a, b segment) int { return a.num - b.num })
	return segs, nil
}

// ReadHistory calls fn with every record in dir that ended at or after since
// (Record.End), oldest
// segment first (within a segment, in the order the collector finished the
// attempts). Segments last written before since are not opened. It returns
// how many malformed lines it skipped; an unterminated last line (being
// written) is not counted.
func ReadHistory(dir string, since time.Time, fn func(Record) error) (skipped int, err error) {
	segs, err := listSegments(dir)
	if err != nil {
		return 0, err
	}
	for _, s := range segs {
		if s.modTime.Before(since) {
			continue
		}
		n, err := readSegment(filepath.Join(dir, s.name), 0, since, fn)
		skipped += n.skipped
		if errors.Is(err, os.ErrNotExist) {
			continue // pruned while we read
		}
		if err != nil {
			return skipped, err
		}
	}
	return skipped, nil
}

// readResult says how far readSegment got.
type readResult struct {
	consumed int64 // bytes of complete lines read
	skipped  int   // malformed lines
}

// readSegment reads the complete lines of the file from offset and calls fn
// for the records that ended at or after since.
func readSegment(path string, offset int64, since time.Time, fn func(Record) error) (readResult, error) {
	var res readResult
	f, err := openNoFollow(path, os.O_RDONLY, 0)
	if err != nil {
		return res, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return res, err
	}
	br := bufio.NewReaderSize(f, 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		if err == io.EOF {
			return res, nil // an unterminated line is still being written
		}
		if err != nil {
			return res, err
		}
		res.consumed += int64(len(line))
		var r Record
		if json.Unmarshal(line, &r) != nil {
			res.skipped++
			continue
		}
		if r.End().Before(since) {
			continue
		}
		if err := fn(r); err != nil {
			return res, err
		}
	}
}
