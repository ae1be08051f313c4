package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/leash-dev/leash/internal/clock"
	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/engine"
	"github.com/leash-dev/leash/internal/eval"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/termtext"
)

// windowClock is the clock policies' time windows are compiled from: the
// time of check --at, else the real one.
func windowClock(d Deps, g *globals) clock.Clock {
	if !g.at.IsZero() {
		return clock.NewFake(g.at)
	}
	return d.Clock
}

// checkTime is when check's connection is opened: --at, else now. It
// also makes the policy compile for that time (g.at).
func checkTime(d Deps, g *globals, env policy.Env, at string) (time.Time, error) {
	if at == "" {
		return d.Clock.Now(), nil
	}
	t, err := policy.ParseAt(at, env.Zone)
	if err != nil {
		return time.Time{}, usage("--at: %w", err)
	}
	g.at = t
	return t, nil
}

// hasWindows reports whether rs has time windows (`meta time` sets).
func hasWindows(rs *ruleset.Ruleset) bool {
	for _, s := range rs.Sets {
		if s.Kind == ruleset.KindTime {
			return true
		}
	}
	return false
}

// atText is t in the host zone and in UTC: "2026-12-07 17:59:00 CET (16:59:00 UTC)".
func atText(t time.Time, zone *time.Location) string {
	if zone == nil {
		zone = time.Local
	}
	local := t.In(zone).Format("2006-01-02 15:04:05 MST")
	if _, off := t.In(zone).Zone(); off == 0 {
		return local
	}
	return local + " (" + t.UTC().Format("15:04:05 UTC") + ")"
}

// printWindows is status's line about time windows.
func printWindows(w io.Writer, ws *engine.WindowsStatus) {
	if ws == nil {
		return
	}
	const layout = "2006-01-02 15:04 MST"
	if ws.Expired {
		fmt.Fprintf(w, "  time windows ended %s: allow rules with `when` no longer match, deny rules with `when` always do; run leash reapply (or leash daemon).\n", ws.Until.UTC().Format(layout))
	} else {
		fmt.Fprintf(w, "  time windows compiled until %s (leash daemon recompiles them from %s; or run leash reapply).\n", ws.Until.UTC().Format(layout), ws.RenewAt.UTC().Format(layout))
	}
	if !ws.NextChange.IsZero() {
		fmt.Fprintf(w, "  next UTC-offset change: %s at %s (windows are absolute instants: no reload needed).\n", termtext.Escape(ws.NextZone), ws.NextChange.UTC().Format(layout))
	}
}

// limitNote describes the limit of the rule that decided res ("" if it
// has none): "new connections beyond 2/minute (burst 2) per user (rule
// r1) are rejected, counted as everyone/r1/limit".
func limitNote(rs *ruleset.Ruleset, res eval.Result) string {
	if res.Rule == nil {
		return ""
	}
	id := compile.LimitID(res.Rule.Origin.ID)
	for _, ch := range rs.Chains {
		for _, r := range ch.Rules {
			if r.Origin.ID == id && r.Verdict.Terminal() {
				how := "rejected"
				if r.Verdict.Kind == ruleset.Drop {
					how = "dropped"
				}
				return fmt.Sprintf("%s are %s, counted as %s", r.Origin.Text, how, id)
			}
		}
	}
	return ""
}
