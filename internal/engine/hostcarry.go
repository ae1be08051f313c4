package engine

import (
	"slices"
	"strings"
	"time"

	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/state"
)

// HostRecordFresh is how recent the hostname refresher's record must be
// for a full replace to carry its addresses (hostCarry): the refresher
// writes it at least once per --dns-ceiling (default 1h) while the daemon
// runs.
const HostRecordFresh = 24 * time.Hour

// hostCarry limits what withLive carries into a compiled hostname set (a
// live set fed by host:NAME without a timeout: compile.HostSets) to the
// addresses leash daemon's refresher holds for NAME (state.HostsRecord: its
// last good answer and the departed addresses it keeps while connections
// live), when its record is fresh. So with the daemon a full replace
// (apply, repair, restore) keeps the refreshed addresses in place, and
// without it nothing is carried: the apply's own resolution is the set, as
// before live sets, and a reapply replaces a name's addresses instead of
// accumulating every address the name ever had. Other live sets (with a
// timeout: their elements expire) are carried whole. rec is the record (nil:
// none); old is the set carried from, returned filtered.
func hostCarry(s, old *ruleset.Set, rec *state.HostsRecord, now time.Time) *ruleset.Set {
	name, ok := strings.CutPrefix(s.Live.Source, "host:")
	if !ok || s.Live.Timeout != 0 {
		return old
	}
	var keep []ruleset.Element
	if rec != nil && now.Sub(rec.Time) < HostRecordFresh {
		for _, h := range rec.Hosts {
			if h.Name != name {
				continue
			}
			for _, el := range old.Elements() {
				if slices.Contains(h.Addrs, el.Addr) || slices.ContainsFunc(h.Kept, func(k state.KeptAddr) bool { return k.Addr == el.Addr }) {
					keep = append(keep, el)
				}
			}
		}
	}
	c := *old
	c.SetElements(keep)
	return &c
}

// hostsRecord is the refresher's record for hostCarry; unreadable counts
// as none (the compiled addresses are loaded, and the refresher, reading
// its record itself, re-adds what it can).
func (e *Engine) hostsRecord() *state.HostsRecord {
	rec, err := e.Store.Hosts()
	if err != nil {
		e.warn("the hostname record is unusable, hostname sets start from their compiled addresses: %v", err)
		return nil
	}
	return rec
}
