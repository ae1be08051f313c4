package ruleset

import (
	"fmt"
	"math"
	"time"
)

// Time windows in the kernel: `meta time @SET`, where SET is an interval
// set of absolute instants (`typeof meta time; flags interval`). The
// kernel's `meta time` is the packet's wall-clock time in nanoseconds since
// the Unix epoch, UTC: unlike `meta hour` (UTC seconds of the day) and
// `meta day` (the weekday in the kernel's own sys_tz), it depends on no
// time zone, so the compiler does every zone and DST conversion itself and
// the kernel only compares instants (internal/compile/when.go).
const (
	// KindTime is a set of instants: `typeof meta time` (nft's date type,
	// 8 bytes, held big-endian: the rule converts with hton).
	KindTime SetKind = "time"
	// MatchTime: `meta time @SET`: the packet's time lies in one of the
	// set's Times.
	MatchTime MatchKind = "time"
)

// Forever is the end of a TimeRange that never ends: 2262-04-11 23:47:16
// UTC, the last whole second of int64 nanoseconds (so that nft text
// writes it exactly).
const Forever = math.MaxInt64 / 1_000_000_000 * 1_000_000_000

// TimeRange is a half-open interval [From, To) of Unix nanoseconds, UTC.
type TimeRange struct {
	From int64 `json:"from"`
	To   int64 `json:"to"`
}

// Contains reports whether the instant t (Unix nanoseconds) lies in r.
func (r TimeRange) Contains(t int64) bool { return r.From <= t && t < r.To }

// String formats r as nft writes date elements, in UTC:
// `"2026-12-07 07:00:00"-"2026-12-07 17:00:00"` (nft reads them in its TZ:
// load exported text with TZ=UTC). nft takes the end of a range as
// included, so a table loaded from the text holds each window one
// nanosecond longer than Apply loads it; `nft list` of Apply's table shows
// the end as the second before (16:59:59).
func (r TimeRange) String() string {
	return fmt.Sprintf("%q-%q", timeText(r.From), timeText(r.To))
}

func timeText(ns int64) string {
	return time.Unix(0, ns).UTC().Format("2006-01-02 15:04:05")
}

// InTimes reports whether the instant t lies in one of the sorted,
// disjoint ranges ts (never the zero time).
func InTimes(ts []TimeRange, t time.Time) bool {
	if t.IsZero() {
		return false
	}
	ns := t.UnixNano()
	for _, r := range ts {
		if r.Contains(ns) {
			return true
		}
	}
	return false
}

// validateTimes checks a KindTime set: an interval set of sorted,
// disjoint, non-empty ranges of instants after the epoch.
func validateTimes(s *Set) error {
	if !s.Interval || len(s.Prefixes)+len(s.Ranges) > 0 {
		return fmt.Errorf("set %s: a time set is an interval set of times only", s.Name)
	}
	for i, r := range s.Times {
		if r.From < 0 || r.From >= r.To {
			return fmt.Errorf("set %s: element %d: empty or negative range %d-%d", s.Name, i, r.From, r.To)
		}
		if i > 0 && r.From <= s.Times[i-1].To {
			return fmt.Errorf("set %s: element %d overlaps, touches or is out of order (elements must be sorted and disjoint)", s.Name, i)
		}
	}
	return nil
}
