package policy

import (
	"fmt"
	"strings"
	"time"
)

// ParseAt reads an instant as `leash check --at` and test cases' `at:`
// write it: "YYYY-MM-DD HH:MM[:SS] [ZONE]" (ZONE an IANA name, default
// zone), or RFC 3339 ("2026-12-07T17:59:00+01:00").
func ParseAt(s string, zone *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	loc := zone
	if loc == nil {
		loc = time.Local
	}
	fields := strings.Fields(s)
	if len(fields) == 3 {
		l, err := time.LoadLocation(fields[2])
		if err != nil || fields[2] == "Local" {
			return time.Time{}, fmt.Errorf("time %q: unknown time zone %q; write an IANA name such as Europe/Berlin or UTC", s, fields[2])
		}
		loc, fields = l, fields[:2]
	}
	if len(fields) == 2 {
		for _, layout := range []string{"2006-01-02 15:04", "2006-01-02 15:04:05"} {
			if t, err := time.ParseInLocation(layout, fields[0]+" "+fields[1], loc); err == nil {
				return t, nil
			}
		}
	}
	return time.Time{}, fmt.Errorf("time %q: write \"YYYY-MM-DD HH:MM [ZONE]\", e.g. \"2026-12-07 17:59 Europe/Berlin\", or RFC 3339", s)
}

// caseAt parses a test case's `at:`, checking its form.
func (p *parser) caseAt(f field) *Scalar {
	s := p.scalar(f.value, "at")
	if s == nil {
		return nil
	}
	if _, err := ParseAt(s.Value, time.UTC); err != nil || s.Kind != KindString {
		p.errorf(s.Pos, "at %s: write \"YYYY-MM-DD HH:MM [ZONE]\" in quotes, e.g. \"2026-12-07 17:59 Europe/Berlin\"", s.Raw)
		return nil
	}
	return s
}
