package benchpolicy

import (
	"fmt"
	"time"

	"github.com/leash-dev/leash/internal/policy"
)

// TimedRules is how many rules with a time window Spec.Timed puts in front
// of the measured allow.
const TimedRules = 10

// addTimed gives p the Timed variant's rules: after r1, TimedRules allow
// rules for the measured ports whose windows, each its own, are closed
// (Sundays 03:00-03:10 Europe/Berlin), so every measured packet passes each of
// them through its time lookup, then the measured allow (r12) with a
// per-user limit whose budget is never exhausted (a meter sized for the
// policy's users). It returns the measured allow's rule id.
func addTimed(p *policy.ResolvedPolicy, berlin *time.Location) string {
	allow := p.Rules[1]
	var rules []*policy.ResolvedRule
	rules = append(rules, p.Rules[0])
	for i := range TimedRules {
		// Each rule its own window (a run of its own: the worst case), all
		// closed: Sunday 03:0i-03:0i+1.
		closed := &policy.When{Windows: []policy.Window{{Days: 1 << time.Sunday, Spans: []policy.Span{{Start: 180 + i, End: 181 + i}},
			Zone: "Europe/Berlin", Loc: berlin}}, Text: fmt.Sprintf("when: {days: [sun], hours: [\"03:%02d-03:%02d\"], zone: Europe/Berlin}", i, i+1)}
		r := *allow
		r.Index, r.When, r.Text = 2+i, closed, allow.Text+" "+closed.Text
		rules = append(rules, &r)
	}
	limited := *allow
	limited.Index = 2 + TimedRules
	limited.Limit = &policy.Limit{Rate: 1_000_000, Unit: "second", Burst: 1_000_000, Per: policy.PerUser, Over: policy.Reject}
	limited.Text = allow.Text + " limit: {rate: 1000000/second, per: user}"
	p.Rules = append(rules, &limited)
	return fmt.Sprintf("%s/r%d", p.Name, limited.Index)
}

// timedAt is a Monday noon: no window of addTimed is open then, nor in the
// 14 days compiled after it.
func timedAt() time.Time { return time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC) }
