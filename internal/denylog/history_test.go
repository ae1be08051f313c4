package denylog

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// ev is a one-packet event at offset sec from t0 with a rule naming n, so
// records are told apart by RuleID.
func ev(sec int, n string) Record {
	return Record{Event: &Event{Type: TypeDeny, Time: t0.Add(time.Duration(sec) * time.Second), Proto: "tcp",
		Src: ap("10.0.0.1:1"), Dst: ap("192.0.2.1:2"), RuleID: "p/" + n, Verdict: VerdictDrop, Attempts: 1}}
}

func rules(rs []Record) []string {
	var out []string
	for _, r := range rs {
		if r.Event != nil {
			out = append(out, r.Event.RuleID)
		} else {
			out = append(out, "lost")
		}
	}
	return out
}

func segNames(t *testing.T, dir string) []string {
	t.Helper()
	segs, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range segs {
		names = append(names, s.name)
	}
	return names
}

func readAll(t *testing.T, dir string, since time.Time) []Record {
	t.Helper()
	var got []Record
	if _, err := ReadHistory(dir, since, func(r Record) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	return got
}

func write(t *testing.T, h *History, rs ...Record) {
	t.Helper()
	for _, r := range rs {
		if err := h.Write(r); err != nil {
			t.Fatal(err)
		}
	}
}

func TestHistoryRotationAndPruning(t *testing.T) {
	lineLen := func() int64 {
		b, _ := ev(0, "r00").MarshalJSON()
		return int64(len(b) + 1)
	}()
	tests := []struct {
		name      string
		lim       HistoryLimits
		writes    int
		wantSegs  []string
		wantFirst string // oldest record kept
	}{
		{
			name:      "under the segment size: one segment",
			lim:       HistoryLimits{SegmentBytes: 100 * lineLen},
			writes:    10,
			wantSegs:  []string{"000000000001.jsonl"},
			wantFirst: "p/r00",
		},
		{
			name:      "three lines a segment, at most 2 segments",
			lim:       HistoryLimits{SegmentBytes: 3 * lineLen, MaxSegments: 2},
			writes:    10, // segments 1..4 written; 3 and 4 kept
			wantSegs:  []string{"000000000003.jsonl", "000000000004.jsonl"},
			wantFirst: "p/r06",
		},
		{
			name:      "total size bound",
			lim:       HistoryLimits{SegmentBytes: 2 * lineLen, MaxSegments: 100, MaxBytes: 5 * lineLen},
			writes:    10, // segments of 2 lines; 3 segments would be 6 lines > 5
			wantSegs:  []string{"000000000004.jsonl", "000000000005.jsonl"},
			wantFirst: "p/r06",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			h, err := OpenHistory(dir, tt.lim)
			if err != nil {
				t.Fatal(err)
			}
			for i := range tt.writes {
				write(t, h, ev(i, "r"+twoDigits(i)))
			}
			if err := h.Close(); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantSegs, segNames(t, dir)); diff != "" {
				t.Errorf("segments (-want +got):\n%s", diff)
			}
			got := rules(readAll(t, dir, time.Time{}))
			if len(got) == 0 || got[0] != tt.wantFirst || got[len(got)-1] != "p/r"+twoDigits(tt.writes-1) {
				t.Errorf("records kept: %v; want %s ... p/r%s", got, tt.wantFirst, twoDigits(tt.writes-1))
			}
		})
	}
}

func twoDigits(i int) string { return string([]byte{byte('0' + i/10), byte('0' + i%10)}) }

func TestHistoryReopenRepairsTornLine(t *testing.T) {
	dir := t.TempDir()
	h, err := OpenHistory(dir, HistoryLimits{})
	if err != nil {
		t.Fatal(err)
	}
	write(t, h, ev(0, "r1"))
	h.Close()
	// A crash mid-write leaves half a line.
	seg := filepath.Join(dir, "000000000001.jsonl")
	f, err := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"type":"deny","time":"2026-`)
	f.Close()
	if got := rules(readAll(t, dir, time.Time{})); !cmp.Equal(got, []string{"p/r1"}) {
		t.Fatalf("torn line read as %v", got)
	}
	h, err = OpenHistory(dir, HistoryLimits{})
	if err != nil {
		t.Fatal(err)
	}
	write(t, h, ev(1, "r2"))
	h.Close()
	if diff := cmp.Diff([]string{"p/r1", "p/r2"}, rules(readAll(t, dir, time.Time{}))); diff != "" {
		t.Errorf("after reopen (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"000000000001.jsonl"}, segNames(t, dir)); diff != "" {
		t.Errorf("reopen continues the last segment (-want +got):\n%s", diff)
	}
}

func TestReadHistorySince(t *testing.T) {
	dir := t.TempDir()
	h, err := OpenHistory(dir, HistoryLimits{})
	if err != nil {
		t.Fatal(err)
	}
	long := ev(50, "long") // an attempt from 50 s to 70 s
	long.Event.Last, long.Event.Attempts = t0.Add(70*time.Second), 4
	write(t, h, ev(0, "a"), ev(30, "b"), long, Record{Loss: &Loss{Time: t0.Add(80 * time.Second), Lost: 3, Reason: ReasonOverflow}}, ev(90, "c"))
	h.Close()
	// A malformed line in the middle is skipped and counted.
	f, _ := os.OpenFile(filepath.Join(dir, "000000000001.jsonl"), os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString("not json\n")
	f.Close()

	tests := []struct {
		name  string
		since time.Time
		want  []string
	}{
		{name: "everything", want: []string{"p/a", "p/b", "p/long", "lost", "p/c"}},
		{name: "since 30 s", since: t0.Add(30 * time.Second), want: []string{"p/b", "p/long", "lost", "p/c"}},
		{name: "an attempt that ends after since counts", since: t0.Add(60 * time.Second), want: []string{"p/long", "lost", "p/c"}},
		{name: "since 85 s", since: t0.Add(85 * time.Second), want: []string{"p/c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []Record
			skipped, err := ReadHistory(dir, tt.since, func(r Record) error { got = append(got, r); return nil })
			if err != nil {
				t.Fatal(err)
			}
			if skipped != 1 {
				t.Errorf("skipped = %d, want 1", skipped)
			}
			if diff := cmp.Diff(tt.want, rules(got)); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadHistorySkipsOldSegments(t *testing.T) {
	dir := t.TempDir()
	h, _ := OpenHistory(dir, HistoryLimits{SegmentBytes: 1}) // one record a segment
	write(t, h, ev(0, "a"), ev(1, "b"))
	h.Close()
	// Segment 1 was last written long ago: it is not even opened.
	old := time.Now().Add(-time.Hour)
	os.Chtimes(filepath.Join(dir, "000000000001.jsonl"), old, old)
	os.WriteFile(filepath.Join(dir, "000000000001.jsonl"), []byte("garbage that would be counted\n"), 0o600)
	os.Chtimes(filepath.Join(dir, "000000000001.jsonl"), old, old)
	skipped, err := ReadHistory(dir, time.Now().Add(-time.Minute), func(Record) error { return nil })
	if err != nil || skipped != 0 {
		t.Errorf("ReadHistory = %d skipped, %v; want the old segment unopened", skipped, err)
	}
}

func TestFollowAcrossRotation(t *testing.T) {
	dir := t.TempDir()
	h, err := OpenHistory(dir, HistoryLimits{SegmentBytes: 600}) // about two records a segment
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	write(t, h, ev(0, "before"))

	var mu sync.Mutex
	var got []Record
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Follow(ctx, dir, time.Time{}, 5*time.Millisecond, func(r Record) error {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, r)
			return nil
		})
	}()
	time.Sleep(50 * time.Millisecond) // Follow starts at the end: "before" is not shown
	var want []string
	for i := range 7 {
		write(t, h, ev(i+1, "n"+twoDigits(i)))
		want = append(want, "p/n"+twoDigits(i))
		time.Sleep(3 * time.Millisecond)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(segNames(t, dir)) < 3 {
		t.Fatalf("test did not rotate: %v", segNames(t, dir))
	}
	if diff := cmp.Diff(want, rules(got)); diff != "" {
		t.Errorf("followed (-want +got):\n%s", diff)
	}
}

func TestFollowSince(t *testing.T) {
	dir := t.TempDir()
	h, _ := OpenHistory(dir, HistoryLimits{})
	write(t, h, ev(0, "a"), ev(10, "b"))
	h.Close()
	var got []Record
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // one step, then stop
	if err := Follow(ctx, dir, t0.Add(5*time.Second), time.Millisecond, func(r Record) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"p/b"}, rules(got)); diff != "" {
		t.Errorf("followed (-want +got):\n%s", diff)
	}
}

func TestCollectorLock(t *testing.T) {
	dir := t.TempDir()
	if _, running, err := RunningCollector(dir); running || err != nil {
		t.Fatalf("RunningCollector on an empty dir = %v, %v", running, err)
	}
	info := CollectorInfo{PID: 1234, Group: 4242, NetNS: "leash-x", Started: t0}
	l, err := LockCollector(dir, info)
	if err != nil {
		t.Fatal(err)
	}
	got, running, err := RunningCollector(dir)
	if err != nil || !running {
		t.Fatalf("RunningCollector = %v, %v; want running", running, err)
	}
	if diff := cmp.Diff(info, got); diff != "" {
		t.Errorf("info (-want +got):\n%s", diff)
	}
	if _, err := LockCollector(dir, info); err == nil || !strings.Contains(err.Error(), "already running (pid 1234") {
		t.Errorf("second LockCollector: %v", err)
	}
	l.Close()
	if _, running, _ := RunningCollector(dir); running {
		t.Error("still running after Close")
	}
}

// TestHistorySymlinksNotFollowed: symlinks planted at the collector's lock
// or at a history segment are refused; their targets are neither truncated
// (the collector runs as root) nor read.
func TestHistorySymlinksNotFollowed(t *testing.T) {
	base := t.TempDir()
	victim := filepath.Join(base, "victim")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, "log")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(dir, LockName)); err != nil {
		t.Fatal(err)
	}
	if l, err := LockCollector(dir, CollectorInfo{PID: 1}); err == nil {
		l.Close()
		t.Error("LockCollector followed a symlink at the lock")
	}
	if err := os.Symlink(victim, filepath.Join(dir, segmentName(1))); err != nil {
		t.Fatal(err)
	}
	if h, err := OpenHistory(dir, HistoryLimits{}); err == nil {
		h.Close()
		t.Error("OpenHistory appended through a symlinked segment")
	}
	var read int
	if skipped, err := ReadHistory(dir, time.Time{}, func(Record) error { read++; return nil }); err != nil || skipped+read != 0 {
		t.Errorf("ReadHistory = %d records, %d skipped, %v; want the symlinked segment ignored", read, skipped, err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Errorf("the symlinks' target changed: %q", b)
	}
}

// TestUntrustedHistoryDirRefused: a history directory others may write is
// refused by the collector and by leash log: denials could be forged there.
func TestUntrustedHistoryDirRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	const want = "refusing the history directory, which another user could change"
	if l, err := LockCollector(dir, CollectorInfo{PID: 1}); err == nil || !strings.Contains(err.Error(), want) {
		if l != nil {
			l.Close()
		}
		t.Errorf("LockCollector = %v, want %q", err, want)
	}
	if _, err := ReadHistory(dir, time.Time{}, func(Record) error { return nil }); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("ReadHistory = %v, want %q", err, want)
	}
}
