package policy

import (
	"strings"

	"github.com/goccy/go-yaml/ast"

	"github.com/leash-dev/leash/internal/decimal"
	"github.com/leash-dev/leash/internal/ruleset"
)

// Denial logging (docs/logging.md). Denied packets are sent to an NFLOG
// group that `leash log` reads, through a kernel-side rate limit per
// logging rule, so a flood of denials costs the host a bounded number of
// log messages.
//
//	baseline:
//	  log: {group: 4242, rate: 10/second, burst: 20}
//	policies:
//	  - name: offline
//	    log: true            # log what the default denies (the default)
//	    rules:
//	      - deny: {to: [lan], log: true}   # log this rule's denials too

// Log defaults.
const (
	DefaultLogRate  = 10
	DefaultLogUnit  = "second"
	DefaultLogBurst = 20
	maxLogRate      = 1_000_000
)

// LogSettings say where and how fast denials are logged.
type LogSettings struct {
	Group uint16 `json:"group"`
	Rate  uint32 `json:"rate"`
	Unit  string `json:"unit"` // second, minute, hour or day
	Burst uint32 `json:"burst"`
	Pos   Pos    `json:"pos"` // no line when implicit
}

// LogDecl is the `baseline.log` mapping as written.
type LogDecl struct {
	Pos                Pos
	Group, Rate, Burst *Scalar
}

func logKeys() []string { return []string{"group", "rate", "burst"} }

// logSettings converts `baseline.log`.
func (p *parser) logSettings(f field) *LogDecl {
	d := &LogDecl{Pos: f.keyPos}
	if isNull(f.value) {
		return d
	}
	fields, _ := p.mapping(f.value, "baseline.log", logKeys())
	for _, lf := range fields {
		s := p.scalar(lf.value, "baseline.log."+lf.key)
		switch lf.key {
		case "group":
			d.Group = s
		case "rate":
			d.Rate = s
		case "burst":
			d.Burst = s
		}
	}
	return d
}

// logFlag converts a `log: true|false` value.
func (p *parser) logFlag(n ast.Node, what string) *Scalar {
	s := p.scalar(n, what)
	if s != nil && s.Kind != KindBool {
		p.errorf(s.Pos, "%s must be true or false; got %s", what, s.Raw)
		return nil
	}
	return s
}

// logSettings resolves `baseline.log` with its defaults.
func (rv *resolver) logSettings(d *LogDecl) LogSettings {
	ls := LogSettings{Group: ruleset.DefaultLogGroup, Rate: DefaultLogRate, Unit: DefaultLogUnit, Burst: DefaultLogBurst, Pos: rv.filePos()}
	if d == nil {
		return ls
	}
	ls.Pos = d.Pos
	if d.Group != nil {
		if v, ok := rv.logNumber(d.Group, "baseline.log.group", 0, 65535); ok {
			ls.Group = uint16(v)
		}
	}
	if d.Rate != nil {
		if n, unit, ok := rv.logRate(d.Rate); ok {
			ls.Rate, ls.Unit = n, unit
		}
	}
	if d.Burst != nil {
		if v, ok := rv.logNumber(d.Burst, "baseline.log.burst", 1, maxLogRate); ok {
			ls.Burst = uint32(v)
		}
	}
	return ls
}

func (rv *resolver) logNumber(s *Scalar, what string, lo, hi uint64) (uint64, bool) {
	v, err := decimal.Parse(s.Value)
	if s.Kind == KindInt && decimal.Spelling(err) {
		rv.errorf(s.Pos, "%s %s: %v", what, s.Raw, err)
		return 0, false
	}
	if s.Kind != KindInt || err != nil || v < lo || v > hi {
		rv.errorf(s.Pos, "%s must be a whole number from %d to %d; got %s", what, lo, hi, s.Raw)
		return 0, false
	}
	return v, true
}

// logRate parses "N/second", "N/minute", "N/hour" or "N/day".
func (rv *resolver) logRate(s *Scalar) (uint32, string, bool) {
	num, unit, ok := strings.Cut(s.Value, "/")
	n, err := decimal.Parse(num)
	switch {
	case s.Kind == KindString && ok && decimal.Spelling(err):
		rv.errorf(s.Pos, "baseline.log.rate %s: %v", s.Raw, err)
		return 0, "", false
	case s.Kind != KindString || !ok || err != nil || n == 0 || n > maxLogRate:
	case unit == "second", unit == "minute", unit == "hour", unit == "day":
		return uint32(n), unit, true
	}
	rv.errorf(s.Pos, "baseline.log.rate must be N/second, N/minute, N/hour or N/day with N from 1 to %d; got %s", maxLogRate, s.Raw)
	return 0, "", false
}

// ruleLog resolves a rule's `log`: only denials are logged.
func (rv *resolver) ruleLog(rd *RuleDecl) bool {
	if rd.Log == nil || rd.Log.Value != "true" {
		return false
	}
	if rd.Action == Allow {
		rv.errorf(rd.Log.Pos, "log: true applies to deny and reject rules; allowed connections are listed by `leash conns`")
		return false
	}
	return true
}
