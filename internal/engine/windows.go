package engine

import (
	"slices"
	"time"

	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/state"
)

// RenewBefore is how long before its windows end a generation is
// recompiled (by the daemon: RenewDue).
const RenewBefore = 24 * time.Hour

// windows is c's time windows for the record: nil without any.
func (c *Compiled) windows() *state.Windows {
	if c.transferred != nil {
		return c.transferred.Windows
	}
	if c.Resolved == nil {
		return nil
	}
	until := compile.Expires(c.Resolved)
	if until.IsZero() {
		return nil
	}
	var zones []string
	add := func(w *policy.When) {
		if w == nil {
			return
		}
		for _, win := range w.Windows {
			z := win.Zone
			if z == "" {
				z = "Local"
			}
			if !slices.Contains(zones, z) {
				zones = append(zones, z)
			}
		}
	}
	for _, p := range c.Resolved.Policies {
		add(p.When)
		for _, r := range p.Rules {
			add(r.When)
		}
	}
	slices.Sort(zones)
	return &state.Windows{Until: until.UTC(), Zones: zones}
}

// WindowsStatus says when a generation's windows end and when a zone they
// use next changes its UTC offset. Windows are absolute instants computed
// with the zones' rules, so an offset change needs no reload (it is shown
// so that an operator can check a window on both sides of it with `leash
// check --at`); the end of the windows does.
type WindowsStatus struct {
	Until time.Time `json:"until"`
	// RenewAt is when the daemon recompiles the policy (RenewBefore Until).
	RenewAt time.Time `json:"renew_at"`
	// Expired: past Until, allow rules with windows never match and deny
	// rules with windows always do (fail closed) until a reapply.
	Expired bool     `json:"expired"`
	Zones   []string `json:"zones,omitempty"`
	// NextChange is the next UTC-offset change of Zones after now (zero:
	// none within the windows), in NextZone.
	NextChange time.Time `json:"next_offset_change,omitempty"`
	NextZone   string    `json:"next_offset_change_zone,omitempty"`
}

func windowsStatus(gen *state.Generation, now time.Time) *WindowsStatus {
	if gen == nil || gen.Windows == nil {
		return nil
	}
	w := gen.Windows
	st := &WindowsStatus{Until: w.Until, RenewAt: w.Until.Add(-RenewBefore), Expired: !now.Before(w.Until), Zones: w.Zones}
	st.NextZone, st.NextChange = NextOffsetChange(w.Zones, now)
	return st
}

// NextOffsetChange is the first UTC-offset change after now of the zones
// (IANA names, "Local" for the host's), and its zone; zero if none changes
// within a year or a zone cannot be loaded.
func NextOffsetChange(zones []string, now time.Time) (string, time.Time) {
	var zone string
	var at time.Time
	for _, z := range zones {
		loc := time.Local
		if z != "Local" {
			l, err := time.LoadLocation(z)
			if err != nil {
				continue
			}
			loc = l
		}
		_, end := now.In(loc).ZoneBounds()
		if end.IsZero() || end.Sub(now) > 366*24*time.Hour {
			continue
		}
		if at.IsZero() || end.Before(at) {
			zone, at = z, end.UTC()
		}
	}
	return zone, at
}

// RenewDue reports whether the generation in force has windows that end
// within RenewBefore of now (or have ended): the daemon then reapplies it.
func RenewDue(gen *state.Generation, now time.Time) bool {
	return gen != nil && gen.Windows != nil && !now.Before(gen.Windows.Until.Add(-RenewBefore))
}
