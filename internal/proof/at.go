package proof

import (
	"context"
	"time"

	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
)

// The kernel's clock cannot be set, so a case that says `at:` is proved
// with the policy compiled for that instant and its windows shifted by
// now-at (compile.ShiftWindows): the kernel, at its now, then judges the
// packet as it would judge one sent at `at` by the ruleset compiled then,
// and leash check judges the shifted ruleset at the kernel's now too. The
// case is judged within the second or so after `at` that its probe takes.

// AtGroup is the cases of one `at` (zero: now), in file order.
type AtGroup struct {
	At    time.Time
	Cases []Case
}

// GroupByAt splits cases by their At, groups in order of first use.
func GroupByAt(cases []Case) []AtGroup {
	var out []AtGroup
	index := map[int64]int{}
	for _, c := range cases {
		k := int64(0)
		if !c.At.IsZero() {
			k = c.At.UnixNano()
		}
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, AtGroup{At: c.At})
		}
		out[i].Cases = append(out[i].Cases, c)
	}
	return out
}

// CompileAt compiles res for the cases of group g when the kernel's clock
// says now: as loaded, or for g.At with the windows shifted by now-g.At. It
// returns the shift (0 for none).
func CompileAt(res *policy.Resolved, g AtGroup, now time.Time) (*ruleset.Ruleset, time.Duration) {
	if g.At.IsZero() || res.At.IsZero() {
		return compile.Compile(res), 0
	}
	r := *res
	r.At = g.At
	rs := compile.Compile(&r)
	shift := now.Sub(g.At)
	compile.ShiftWindows(rs, shift)
	return rs, shift
}

// Applier loads a ruleset into the prober's client namespace.
type Applier func(*ruleset.Ruleset) error

// RunTimed proves cases against res: each group of one `at` (GroupByAt)
// with its own ruleset (CompileAt at opt.Now), applied with apply, then
// Run. The notes say, per shifted group, how its windows were moved.
func RunTimed(ctx context.Context, p Prober, apply Applier, res *policy.Resolved, cases []Case, opt Options) ([]Result, []Shift, error) {
	now := time.Now
	if opt.Now != nil {
		now = opt.Now
	}
	opt.Now = now
	var out []Result
	var shifts []Shift
	for _, g := range GroupByAt(cases) {
		rs, shift := CompileAt(res, g, now())
		if err := apply(rs); err != nil {
			return out, shifts, err
		}
		if shift != 0 {
			shifts = append(shifts, Shift{At: g.At, By: shift})
		}
		rr, err := Run(ctx, p, rs, g.Cases, opt)
		out = append(out, rr...)
		if err != nil {
			return out, shifts, err
		}
	}
	return out, shifts, nil
}

// Shift says that the cases at At were proved with the windows moved By.
type Shift struct {
	At time.Time     `json:"at"`
	By time.Duration `json:"by"`
}
