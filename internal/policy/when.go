package policy

import (
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
	"github.com/leash-dev/leash/internal/clock"
)

// Time windows: `when:` on a rule (the rule applies only inside the
// window; outside, the next rule decides) or on a policy (the window of
// every rule of the policy, intersected with the rule's own; the default
// always applies). The value is one window or a list of windows (their
// union):
//
//	when:
//	  days: [mon-fri]                       # default: every day
//	  hours: ["08:00-18:00", "22:00-02:00"] # default: all day; an end before
//	                                        # the start crosses midnight
//	  zone: Europe/Berlin                   # default: the host's time zone
//	  from: 2026-12-01                      # first day, optional
//	  until: 2026-12-24                     # last day, optional
//
// The window is wall-clock time in its zone: DST is the zone's business
// (internal/compile/when.go turns it into absolute instants).

// WhenDecl is a parsed `when` value.
type WhenDecl struct {
	Pos     Pos
	Windows []*WindowDecl
}

// WindowDecl is one window of a `when`.
type WindowDecl struct {
	Pos         Pos
	Days, Hours []*Scalar
	Zone        *Scalar
	From, Until *Scalar
}

// When is a resolved `when`: the union of its windows.
type When struct {
	Pos     Pos      `json:"pos"`
	Windows []Window `json:"windows"`
	// Text is the `when` as written, on one line.
	Text string `json:"text"`
}

// Window is one resolved window: on the Days (bit d set for
// time.Weekday d) of local dates from From to Until (inclusive; zero for
// no bound), the Spans of wall-clock time in Loc.
type Window struct {
	Days  uint8  `json:"days"`
	Spans []Span `json:"spans"`
	// Zone is the IANA name of Loc as written, "" for the host's zone.
	Zone        string         `json:"zone,omitempty"`
	Loc         *time.Location `json:"-"`
	From, Until civilDate      `json:"-"`
}

// Span is a time of day range in minutes after local midnight, [Start,
// End) with Start < End <= Start+1440: an End beyond 1440 crosses midnight
// into the next day (22:00-02:00 is 1320-1560).
type Span struct {
	Start int `json:"start"`
	End   int `json:"end"`
}

// civilDate is a calendar day (zero: none).
type civilDate struct {
	Y int
	M time.Month
	D int
}

func (d civilDate) IsZero() bool { return d.Y == 0 }

// Before reports whether d is an earlier day than e.
func (d civilDate) Before(e civilDate) bool {
	if d.Y != e.Y {
		return d.Y < e.Y
	}
	if d.M != e.M {
		return d.M < e.M
	}
	return d.D < e.D
}

// HasDate reports whether the calendar day y-m-d lies within the window's
// from/until bounds.
func (w Window) HasDate(y int, m time.Month, d int) bool {
	c := civilDate{y, m, d}
	return (w.From.IsZero() || !c.Before(w.From)) && (w.Until.IsZero() || !w.Until.Before(c))
}

// windowKeys are the keys of a window.
func windowKeys() []string { return []string{"days", "hours", "zone", "from", "until"} }

// when parses a `when` value: a mapping (one window) or a list of them.
func (p *parser) when(f field, what string) *WhenDecl {
	what += ": when"
	if isNull(f.value) || p.unsupported(f.value) {
		p.errorf(f.keyPos, "%s is empty; write a window such as {days: [mon-fri], hours: [\"08:00-18:00\"]}, or remove it", what)
		return nil
	}
	wd := &WhenDecl{Pos: f.keyPos}
	items := []ast.Node{f.value}
	if seq, ok := f.value.(*ast.SequenceNode); ok {
		if len(seq.Values) == 0 {
			p.errorf(f.keyPos, "%s is an empty list; write at least one window, or remove it", what)
			return nil
		}
		items = seq.Values
	}
	for _, item := range items {
		fields, ok := p.mapping(item, what, windowKeys())
		if !ok {
			continue
		}
		w := &WindowDecl{Pos: p.pos(item)}
		for _, wf := range fields {
			switch wf.key {
			case "days":
				w.Days = p.list(wf.value, what+": days", "[mon-fri, sat]")
			case "hours":
				w.Hours = p.list(wf.value, what+": hours", `["08:00-18:00"]`)
			case "zone":
				w.Zone = p.scalar(wf.value, what+": zone")
			case "from":
				w.From = p.scalar(wf.value, what+": from")
			case "until":
				w.Until = p.scalar(wf.value, what+": until")
			}
		}
		wd.Windows = append(wd.Windows, w)
	}
	return wd
}

// Text renders the parsed window as YAML flow text, for explanations.
func (wd *WhenDecl) Text() string {
	var ws []string
	for _, w := range wd.Windows {
		var parts []string
		if len(w.Days) > 0 {
			parts = append(parts, "days: "+flowList(w.Days))
		}
		if len(w.Hours) > 0 {
			parts = append(parts, "hours: "+flowList(w.Hours))
		}
		for _, kv := range []struct {
			k string
			s *Scalar
		}{{"zone", w.Zone}, {"from", w.From}, {"until", w.Until}} {
			if kv.s != nil {
				parts = append(parts, kv.k+": "+kv.s.Raw)
			}
		}
		ws = append(ws, "{"+strings.Join(parts, ", ")+"}")
	}
	if len(ws) == 1 {
		return "when: " + ws[0]
	}
	return "when: [" + strings.Join(ws, ", ") + "]"
}

// dayNames are the weekday names, index time.Weekday.
var dayNames = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// when resolves a parsed `when`; nil stays nil. Errors are reported and
// leave the window out.
func (rv *resolver) when(wd *WhenDecl) *When {
	if wd == nil {
		return nil
	}
	out := &When{Pos: wd.Pos, Text: wd.Text()}
	for _, w := range wd.Windows {
		if win, ok := rv.window(w); ok {
			out.Windows = append(out.Windows, win)
		}
	}
	return out
}

func (rv *resolver) window(w *WindowDecl) (Window, bool) {
	win := Window{Days: 0x7f, Loc: rv.hostZone()}
	ok := true
	if len(w.Days) > 0 {
		win.Days = 0
		for _, s := range w.Days {
			d, good := rv.days(s)
			ok = ok && good
			win.Days |= d
		}
	}
	if len(w.Hours) == 0 {
		win.Spans = []Span{{0, 1440}}
	}
	for _, s := range w.Hours {
		sp, good := rv.span(s)
		ok = ok && good
		win.Spans = append(win.Spans, sp)
	}
	if w.Zone != nil {
		name := w.Zone.Value
		loc, err := time.LoadLocation(name)
		switch {
		case w.Zone.Kind != KindString || name == "" || name == "Local":
			rv.errorf(w.Zone.Pos, "zone %s is not a time zone; write an IANA name such as Europe/Berlin or UTC, or leave zone out for the host's zone", w.Zone.Raw)
			ok = false
		case err != nil:
			rv.errorf(w.Zone.Pos, "unknown time zone %s; write an IANA name such as Europe/Berlin, America/New_York or UTC (the names under /usr/share/zoneinfo)", w.Zone.Raw)
			ok = false
		default:
			win.Zone, win.Loc = name, loc
		}
	}
	for _, b := range []struct {
		s   *Scalar
		dst *civilDate
	}{{w.From, &win.From}, {w.Until, &win.Until}} {
		if b.s == nil {
			continue
		}
		t, err := time.Parse("2006-01-02", b.s.Value)
		if err != nil {
			rv.errorf(b.s.Pos, "date %s: write YYYY-MM-DD, e.g. 2026-12-24", b.s.Raw)
			ok = false
			continue
		}
		*b.dst = civilDate{t.Year(), t.Month(), t.Day()}
	}
	if !win.From.IsZero() && !win.Until.IsZero() && win.Until.Before(win.From) {
		rv.errorf(w.Until.Pos, "until %s is before from %s; swap them", w.Until.Raw, w.From.Raw)
		ok = false
	}
	return win, ok
}

// hostZone is the zone of windows without `zone`: Env.Zone, else the
// host's (TZ, /etc/localtime).
func (rv *resolver) hostZone() *time.Location {
	if rv.env.Zone != nil {
		return rv.env.Zone
	}
	return time.Local
}

// days reads one entry of `days`: a day name or a range of them
// (mon-fri, fri-mon wraps over the weekend). It returns the weekday bits.
func (rv *resolver) days(s *Scalar) (uint8, bool) {
	v := strings.ToLower(s.Value)
	lo, hi, isRange := strings.Cut(v, "-")
	a, aok := dayIndex(lo)
	b, bok := a, aok
	if isRange {
		b, bok = dayIndex(hi)
	}
	if s.Kind != KindString || !aok || !bok {
		rv.errorf(s.Pos, "day %s: write a day (mon, tue, wed, thu, fri, sat, sun) or a range of days (mon-fri)%s", s.Raw, suggest(v, dayNames[:]))
		return 0, false
	}
	var bits uint8
	for d := a; ; d = (d + 1) % 7 {
		bits |= 1 << d
		if d == b {
			break
		}
	}
	return bits, true
}

func dayIndex(s string) (int, bool) {
	for i, n := range dayNames {
		if s == n {
			return i, true
		}
	}
	return 0, false
}

// span reads one entry of `hours`: "HH:MM-HH:MM", 24:00 allowed as an
// end; an end at or before the start crosses midnight.
func (rv *resolver) span(s *Scalar) (Span, bool) {
	bad := func(why string) (Span, bool) {
		rv.errorf(s.Pos, "hours %s: %s; write \"HH:MM-HH:MM\" in quotes, e.g. \"08:00-18:00\" (an end before the start crosses midnight: \"22:00-06:00\")", s.Raw, why)
		return Span{}, false
	}
	if s.Kind != KindString {
		return bad("not a time range")
	}
	a, b, ok := strings.Cut(s.Value, "-")
	if !ok {
		return bad("no end time")
	}
	start, ok1 := clockMinutes(strings.TrimSpace(a), false)
	end, ok2 := clockMinutes(strings.TrimSpace(b), true)
	if !ok1 || !ok2 {
		return bad("not a time range")
	}
	if start == end%1440 {
		return bad("the start and end are the same time (for all day, leave hours out)")
	}
	if end < start {
		end += 1440
	}
	return Span{Start: start, End: end}, true
}

// clockMinutes reads "HH:MM" (00:00-23:59, and 24:00 as an end).
func clockMinutes(s string, end bool) (int, bool) {
	hh, mm, ok := strings.Cut(s, ":")
	if !ok || len(hh) != 2 || len(mm) != 2 {
		return 0, false
	}
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if err1 != nil || err2 != nil || h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && (m != 0 || !end)) {
		return 0, false
	}
	return h*60 + m, true
}

// usesWhen reports whether a policy or rule of r has a window.
func usesWhen(r *Resolved) bool {
	for _, p := range r.Policies {
		if p.When != nil {
			return true
		}
		for _, rule := range p.Rules {
			if rule.When != nil {
				return true
			}
		}
	}
	return false
}

// now is the load time: Env.Clock's, else the real clock's.
func (rv *resolver) now() time.Time {
	if rv.env.Clock != nil {
		return rv.env.Clock.Now()
	}
	return clock.Real{}.Now()
}
