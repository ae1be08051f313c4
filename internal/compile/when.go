package compile

import (
	"fmt"
	"slices"
	"time"

	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
)

// Time windows (`when:`), compiled to absolute instants.
//
// A run of consecutive rules with the same window goes to a chain of its
// own, entered by `meta time @NAME_wK_time jump p_NAME.wK` (windowBlock),
// where the set holds the instants (UTC nanoseconds) the window is open
// from Resolved.At-LookBack to Resolved.At+Horizon:
//
//	set web_w1_time { typeof meta time; flags interval;
//	    elements = { "2026-12-07 07:00:00"-"2026-12-07 17:00:00", ... } }
//	meta time @web_w1_time jump p_web.w1
//
// Why absolute instants and not `meta hour`/`meta day`: the kernel
// compares `meta hour` in UTC but computes `meta day` in its own sys_tz
// (which settimeofday can change at any moment and which is no business
// of a policy), and a weekly pattern in UTC is only right until the next
// DST change of the policy's zone. Instants are computed here with the
// zone's rules (time.Location), DST gaps and folds included, so the kernel
// is right at every DST change without a reload. What needs a reload is
// the end of the horizon: Expires says when (the daemon and `leash
// reapply` do it; `leash status` shows it). Past the horizon a window is
// closed for an allow rule and open for a deny or reject rule: a policy
// left unrefreshed fails closed.
//
// Cost per packet: one interval-set lookup (a few dozen elements) per run
// of rules with one window, then the run's own shared lookups while it is
// open; the runs before and after are laid out as usual. Rules of a run
// never shadow rules after it at compile time (outside its window the next
// rule decides), so the lookups per packet grow with the number of runs of
// differently windowed rules, not with the number of rules.

const (
	// Horizon is how far ahead of Resolved.At windows are compiled.
	Horizon = 14 * 24 * time.Hour
	// LookBack is how far before Resolved.At they start (a kernel clock
	// slightly behind the one that compiled).
	LookBack = time.Hour
)

// Expires is when a ruleset compiled from r stops being exact (its windows
// end), or the zero time when r has no windows.
func Expires(r *policy.Resolved) time.Time {
	if r.At.IsZero() {
		return time.Time{}
	}
	return r.At.Add(Horizon)
}

// WindowTimes returns the instants when w is open within [from, to), as
// sorted, disjoint half-open ranges of Unix nanoseconds.
func WindowTimes(w *policy.When, from, to time.Time) []ruleset.TimeRange {
	var all []ruleset.TimeRange
	for _, win := range w.Windows {
		all = append(all, windowRanges(win, from, to)...)
	}
	return clipTimes(mergeTimes(all), from.UnixNano(), to.UnixNano())
}

// windowRanges lists the ranges of one window around [from, to), unmerged.
func windowRanges(win policy.Window, from, to time.Time) []ruleset.TimeRange {
	loc := win.Loc
	if loc == nil {
		loc = time.UTC
	}
	f := from.In(loc)
	day := time.Date(f.Year(), f.Month(), f.Day()-2, 0, 0, 0, 0, time.UTC) // naive local dates
	l := to.In(loc)
	last := time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, time.UTC)
	var out []ruleset.TimeRange
	for ; !day.After(last); day = day.AddDate(0, 0, 1) {
		if win.Days&(1<<day.Weekday()) == 0 || !win.HasDate(day.Year(), day.Month(), day.Day()) {
			continue
		}
		for _, s := range win.Spans {
			a := day.Add(time.Duration(s.Start) * time.Minute)
			b := day.Add(time.Duration(s.End) * time.Minute)
			out = append(out, wallInstants(a, b, loc)...)
		}
	}
	return out
}

// wallInstants returns the instants whose wall-clock time in loc lies in
// [a, b), a and b being wall-clock times written as UTC times. Between two
// offset changes of loc the wall clock is the instant plus the offset, so
// each stretch of constant offset contributes [a-off, b-off) clipped to
// the stretch: a start in a DST gap begins when the clock jumps past it,
// and a fold (the clock set back) belongs to the window both times.
func wallInstants(a, b time.Time, loc *time.Location) []ruleset.TimeRange {
	const slack = 27 * time.Hour // beyond any UTC offset
	var out []ruleset.TimeRange
	for t := a.Add(-slack); t.Before(b.Add(slack)); {
		lt := t.In(loc)
		_, off := lt.Zone()
		start, end := lt.ZoneBounds()
		lo := a.Add(-time.Duration(off) * time.Second)
		hi := b.Add(-time.Duration(off) * time.Second)
		if !start.IsZero() && lo.Before(start) {
			lo = start
		}
		if !end.IsZero() && hi.After(end) {
			hi = end
		}
		if lo.Before(hi) {
			out = append(out, ruleset.TimeRange{From: lo.UnixNano(), To: hi.UnixNano()})
		}
		if end.IsZero() {
			break
		}
		t = end
	}
	return out
}

// mergeTimes sorts ranges and merges overlapping and touching ones.
func mergeTimes(ts []ruleset.TimeRange) []ruleset.TimeRange {
	slices.SortFunc(ts, func(x, y ruleset.TimeRange) int {
		switch {
		case x.From < y.From:
			return -1
		case x.From > y.From:
			return 1
		}
		return 0
	})
	var out []ruleset.TimeRange
	for _, t := range ts {
		if n := len(out); n > 0 && t.From <= out[n-1].To {
			out[n-1].To = max(out[n-1].To, t.To)
			continue
		}
		out = append(out, t)
	}
	return out
}

// clipTimes keeps the parts of sorted ranges within [from, to).
func clipTimes(ts []ruleset.TimeRange, from, to int64) []ruleset.TimeRange {
	var out []ruleset.TimeRange
	for _, t := range ts {
		t.From, t.To = max(t.From, from), min(t.To, to)
		if t.From < t.To {
			out = append(out, t)
		}
	}
	return out
}

// intersectTimes is the instants in both sorted, disjoint lists.
func intersectTimes(x, y []ruleset.TimeRange) []ruleset.TimeRange {
	var out []ruleset.TimeRange
	for i, j := 0, 0; i < len(x) && j < len(y); {
		lo, hi := max(x[i].From, y[j].From), min(x[i].To, y[j].To)
		if lo < hi {
			out = append(out, ruleset.TimeRange{From: lo, To: hi})
		}
		if x[i].To < y[j].To {
			i++
		} else {
			j++
		}
	}
	return out
}

// ruleTimes is when rule r of p applies within the compiled horizon, and
// whether it has a window at all (its own or its policy's).
func ruleTimes(p *policy.ResolvedPolicy, r *policy.ResolvedRule, at time.Time) ([]ruleset.TimeRange, bool) {
	if p.When == nil && r.When == nil {
		return nil, false
	}
	from, to := at.Add(-LookBack), at.Add(Horizon)
	var ts []ruleset.TimeRange
	switch {
	case p.When != nil && r.When != nil:
		ts = intersectTimes(WindowTimes(p.When, from, to), WindowTimes(r.When, from, to))
	case p.When != nil:
		ts = WindowTimes(p.When, from, to)
	default:
		ts = WindowTimes(r.When, from, to)
	}
	if r.Action != policy.Allow {
		// Past the horizon a denial holds: a ruleset nobody refreshed
		// fails closed.
		ts = mergeTimes(append(ts, ruleset.TimeRange{From: to.UnixNano(), To: ruleset.Forever}))
	}
	return ts, true
}

// windowRun is a run of consecutive rules of a policy with the same
// window (times, within the horizon), or without any (times nil).
type windowRun struct {
	rules []*policy.ResolvedRule
	times []ruleset.TimeRange
}

// windowRuns splits p's rules into runs of one window each.
func (c *compiler) windowRuns(p *policy.ResolvedPolicy) []windowRun {
	var runs []windowRun
	for _, r := range p.Rules {
		ts, timed := ruleTimes(p, r, c.at)
		if timed && ts == nil {
			ts = []ruleset.TimeRange{} // never open: still a window
		}
		if n := len(runs); n > 0 && (runs[n-1].times == nil) == !timed && slices.Equal(runs[n-1].times, ts) {
			runs[n-1].rules = append(runs[n-1].rules, r)
			continue
		}
		runs = append(runs, windowRun{rules: []*policy.ResolvedRule{r}, times: ts})
	}
	return runs
}

// windowBlock puts the compiled rules of run k (one window) in a chain
// of their own and returns the rule that enters it while the window is
// open:
//
//	meta time @NAME_w2_time jump p_NAME.w2     comment "NAME/w2"
//	chain p_NAME.w2 { the run's rules, shared lookups and all }
//
// A packet no rule of the run decides comes back and goes on with the
// rules after it, as when the window is closed: the run's rules never
// shadow later ones. The time lookup is one per run, whatever its length.
func (c *compiler) windowBlock(p *policy.ResolvedPolicy, k int, run windowRun, rules []*ruleset.Rule) *ruleset.Rule {
	first, last := run.rules[0], run.rules[len(run.rules)-1]
	name := fmt.Sprintf("%s.w%d", ChainName(p.Name), k+1)
	set := c.sets.add(c.rs, setKey{kind: ruleset.KindTime, interval: true},
		&ruleset.Set{Name: fmt.Sprintf("%s_w%d_time", setPrefix(p.Name), k+1), Kind: ruleset.KindTime, Interval: true, Times: run.times})
	c.pending = append(c.pending, ruleChain{first.Index, &ruleset.Chain{Name: name, Rules: rules}})
	what := fmt.Sprintf("rule r%d applies", first.Index)
	if last != first {
		what = fmt.Sprintf("rules r%d-r%d apply", first.Index, last.Index)
	}
	text := what + " only in their window"
	if w := windowOf(p, first); w != nil {
		text = what + " only " + w.Text
	}
	o := c.origin(fmt.Sprintf("%s/w%d", p.Name, k+1), p.Name, "window", 0, first.Pos, text)
	return &ruleset.Rule{Match: []ruleset.Match{{Kind: ruleset.MatchTime, Set: set}},
		Verdict: ruleset.Verdict{Kind: ruleset.Jump, Chain: name}, Origin: o}
}

// windowOf is the `when` that gives rule r of p its window.
func windowOf(p *policy.ResolvedPolicy, r *policy.ResolvedRule) *policy.When {
	if r.When != nil {
		return r.When
	}
	return p.When
}

// ShiftWindows moves every time window of rs by d (ranges that never end
// stay so): a ruleset compiled for instant at, shifted by now-at, judges
// packets sent now as the original would judge packets sent at `at`. This
// is how `leash test` proves a case's `at:` on a kernel whose clock it
// cannot set.
func ShiftWindows(rs *ruleset.Ruleset, d time.Duration) {
	for _, s := range rs.Sets {
		if s.Kind != ruleset.KindTime {
			continue
		}
		for i := range s.Times {
			s.Times[i].From += int64(d)
			if s.Times[i].To != ruleset.Forever {
				s.Times[i].To += int64(d)
			}
		}
	}
}
