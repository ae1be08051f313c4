package policy

import (
	"strings"

	"github.com/leash-dev/leash/internal/decimal"
)

// Connection limits: `limit:` on an allow rule caps the new connections
// the rule allows, by rate (a token bucket) and/or by the number open at
// once; connections beyond it are dropped or rejected, and logged, under
// the rule's name (internal/compile/limit.go):
//
//	- allow:
//	    ports: [80/tcp]
//	    limit: {rate: 10/minute, burst: 5, per: user, over: reject}
//	- allow: {ports: [any], limit: {connections: 20, per: user}}

// LimitDecl is a parsed `limit`.
type LimitDecl struct {
	Pos                         Pos
	Rate, Burst, Connections    *Scalar
	Per, Over, Log              *Scalar
	RatePos, BurstPos, ConnsPos Pos
}

// LimitPer says whose budget a limit counts.
type LimitPer string

// Budgets: one for the rule, one per uid, one per destination address.
const (
	PerRule        LimitPer = "rule"
	PerUser        LimitPer = "user"
	PerDestination LimitPer = "destination"
)

// Limit is a resolved `limit`.
type Limit struct {
	Pos Pos `json:"pos"`
	// Rate new connections per Unit (second, minute, hour, day), Burst at
	// once; Rate 0 for no rate limit.
	Rate  uint32 `json:"rate,omitempty"`
	Unit  string `json:"unit,omitempty"`
	Burst uint32 `json:"burst,omitempty"`
	// Connections caps the connections open at once (ct count); 0 for none.
	Connections uint32   `json:"connections,omitempty"`
	Per         LimitPer `json:"per"`
	// Over is what happens to a connection beyond the limit: deny or reject.
	Over Action `json:"over"`
	// Log: connections beyond the limit are logged (default true).
	Log bool `json:"log"`
}

func limitKeys() []string {
	return []string{"rate", "burst", "connections", "per", "over", "log"}
}

// maxLimit bounds rates, bursts and connection counts.
const maxLimit = 1_000_000

// limit parses a rule's `limit`.
func (p *parser) limit(f field, what string) *LimitDecl {
	what += ": limit"
	fields, ok := p.mapping(f.value, what, limitKeys())
	if !ok {
		return nil
	}
	d := &LimitDecl{Pos: f.keyPos}
	for _, lf := range fields {
		switch lf.key {
		case "rate":
			d.Rate, d.RatePos = p.scalar(lf.value, what+": rate"), lf.keyPos
		case "burst":
			d.Burst, d.BurstPos = p.scalar(lf.value, what+": burst"), lf.keyPos
		case "connections":
			d.Connections, d.ConnsPos = p.scalar(lf.value, what+": connections"), lf.keyPos
		case "per":
			d.Per = p.word(lf.value, what+": per", []string{"rule", "user", "destination"})
		case "over":
			d.Over = p.word(lf.value, what+": over", []string{"deny", "reject"})
		case "log":
			d.Log = p.logFlag(lf.value, what+": log")
		}
	}
	if d.Rate == nil && d.Connections == nil {
		p.errorf(d.Pos, "%s names no limit; write rate: N/minute (new connections) and/or connections: N (open at once)", what)
		return nil
	}
	return d
}

// limit resolves a rule's `limit`; nil stays nil.
func (rv *resolver) limit(rd *RuleDecl) *Limit {
	d := rd.Limit
	if d == nil {
		return nil
	}
	if rd.Action != Allow {
		rv.errorf(d.Pos, "limit applies to allow rules (it caps what the rule allows); a %s rule already refuses every connection it matches", rd.Action)
		return nil
	}
	if len(rd.Via) > 0 {
		rv.errorf(d.Pos, "limit and via in one rule are not supported yet; split the rule, or drop one of them")
		return nil
	}
	l := &Limit{Pos: d.Pos, Per: PerRule, Over: Reject, Log: true}
	ok := true
	if d.Rate != nil {
		n, unit, good := rv.rate(d.Rate)
		l.Rate, l.Unit, ok = n, unit, ok && good
		l.Burst = n
		if d.Burst != nil {
			b, good := rv.logNumber(d.Burst, "limit: burst", 1, maxLimit)
			l.Burst, ok = uint32(b), ok && good
		}
	} else if d.Burst != nil {
		rv.errorf(d.BurstPos, "limit: burst needs a rate; add rate: N/second")
		ok = false
	}
	if d.Connections != nil {
		n, good := rv.logNumber(d.Connections, "limit: connections", 1, maxLimit)
		l.Connections, ok = uint32(n), ok && good
	}
	if d.Per != nil {
		l.Per = LimitPer(d.Per.Value)
	}
	if l.Connections > 0 && l.Per == PerRule {
		pos := d.ConnsPos
		if d.Per != nil {
			pos = d.Per.Pos
		}
		rv.errorf(pos, "limit: connections counts per user or per destination; add per: user (or per: destination)")
		ok = false
	}
	if d.Over != nil {
		l.Over = Action(d.Over.Value)
	}
	if d.Log != nil {
		l.Log = d.Log.Value == "true"
	}
	if !ok {
		return nil
	}
	return l
}

// rate parses a limit's "N/second", "N/minute", "N/hour" or "N/day".
func (rv *resolver) rate(s *Scalar) (uint32, string, bool) {
	num, unit, ok := strings.Cut(s.Value, "/")
	n, err := decimal.Parse(num)
	switch {
	case s.Kind == KindString && ok && decimal.Spelling(err):
		rv.errorf(s.Pos, "limit: rate %s: %v", s.Raw, err)
		return 0, "", false
	case s.Kind != KindString || !ok || err != nil || n == 0 || n > maxLimit:
	case unit == "second", unit == "minute", unit == "hour", unit == "day":
		return uint32(n), unit, true
	}
	rv.errorf(s.Pos, "limit: rate must be N/second, N/minute, N/hour or N/day with N from 1 to %d; got %s", maxLimit, s.Raw)
	return 0, "", false
}

// Text renders the parsed limit as YAML flow text.
func (d *LimitDecl) Text() string {
	var parts []string
	for _, kv := range []struct {
		k string
		s *Scalar
	}{{"rate", d.Rate}, {"burst", d.Burst}, {"connections", d.Connections}, {"per", d.Per}, {"over", d.Over}, {"log", d.Log}} {
		if kv.s != nil {
			parts = append(parts, kv.k+": "+kv.s.Raw)
		}
	}
	return "limit: {" + strings.Join(parts, ", ") + "}"
}
