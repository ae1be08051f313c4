package cli

import (
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/leash-dev/leash/internal/engine"
	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/state"
	"github.com/leash-dev/leash/internal/termtext"
)

// hostJSON is one hostname of the generation in force in status: what the
// table holds for it by the refresher's record (leash daemon), or, with no
// record, what it resolved to at apply.
type hostJSON struct {
	Name string `json:"name"`
	// Addrs are the last good answer (refreshed) or the apply's.
	Addrs []netip.Addr `json:"addrs"`
	// Refreshed is when leash daemon last got an answer (zero: never,
	// Addrs are the apply's); Next when it asks again; TTL the answer's.
	Refreshed time.Time     `json:"refreshed,omitzero"`
	Next      time.Time     `json:"next,omitzero"`
	TTL       time.Duration `json:"ttl,omitempty"`
	// Error is the last lookup's failure; the set kept its addresses.
	Error   string    `json:"error,omitempty"`
	ErrorAt time.Time `json:"error_at,omitzero"`
	// Kept are addresses that left the answer, still in the set (while
	// connections to them live, or for the grace period).
	Kept []state.KeptAddr `json:"kept,omitempty"`
}

// hostsJSON is status's hostnames section.
type hostsJSON struct {
	// Record is when the refresher last wrote its record (zero: never:
	// no leash daemon has run with this state directory).
	Record time.Time  `json:"record,omitzero"`
	Hosts  []hostJSON `json:"hosts"`
	// Error is the last failure to update the kernel's table, or why
	// the record could not be read.
	Error string `json:"error,omitempty"`
}

// statusHosts gathers the hostnames of the generation in force; nil when
// it has none.
func statusHosts(st *engine.Status) *hostsJSON {
	if st.Generation == nil || st.Generation.Ruleset == nil {
		return nil
	}
	compiled := map[string][]netip.Addr{}
	var names []string
	for name, addrs := range st.Generation.Hosts { // what the policy resolved (as last refreshed)
		names = append(names, name)
		for _, a := range addrs {
			if ip, err := netip.ParseAddr(a); err == nil {
				compiled[name] = append(compiled[name], ip)
			}
		}
	}
	if len(names) == 0 {
		return nil
	}
	slices.Sort(names)
	out := &hostsJSON{}
	recorded := map[string]state.HostState{}
	switch {
	case st.HostsErr != nil:
		out.Error = st.HostsErr.Error()
	case st.Hosts != nil:
		out.Record, out.Error = st.Hosts.Time, st.Hosts.Error
		for _, h := range st.Hosts.Hosts {
			recorded[h.Name] = h
		}
	}
	for _, name := range names {
		h, ok := recorded[name]
		if !ok {
			addrs := slices.Clone(compiled[name])
			slices.SortFunc(addrs, netip.Addr.Compare)
			out.Hosts = append(out.Hosts, hostJSON{Name: name, Addrs: addrs})
			continue
		}
		out.Hosts = append(out.Hosts, hostJSON{Name: name, Addrs: h.Addrs, Refreshed: h.Refreshed, Next: h.Next,
			TTL: h.TTL, Error: h.Error, ErrorAt: h.ErrorAt, Kept: h.Kept})
	}
	return out
}

// printHostnames prints the hostnames section: one line per name, its
// addresses and when it was refreshed, then any error and kept address.
func printHostnames(w io.Writer, hs *hostsJSON, now time.Time) {
	fmt.Fprintln(w)
	if hs.Record.IsZero() {
		fmt.Fprintln(w, "Hostnames (resolved at apply; not refreshed: no leash daemon has recorded a refresh):")
	} else {
		fmt.Fprintf(w, "Hostnames (refreshed by leash daemon by TTL; record written %s):\n", ago(now, hs.Record))
	}
	if hs.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", termtext.Escape(hs.Error))
	}
	width := 0
	for _, h := range hs.Hosts {
		width = max(width, len(h.Name))
	}
	for _, h := range hs.Hosts {
		addrs := make([]string, len(h.Addrs))
		for i, a := range h.Addrs {
			addrs[i] = a.String()
		}
		when := "resolved at apply"
		if !h.Refreshed.IsZero() {
			when = "refreshed " + ago(now, h.Refreshed)
			if h.TTL > 0 {
				when += ", TTL " + ruleset.DurationText(h.TTL)
			}
			if !h.Next.IsZero() {
				when += ", next " + until(now, h.Next)
			}
		}
		fmt.Fprintf(w, "  %-*s  %s  (%s)\n", width, termtext.Escape(h.Name), strings.Join(addrs, ", "), when)
		if h.Error != "" {
			fmt.Fprintf(w, "  %-*s  lookup failed %s: %s; the last good addresses stay\n", width, "", ago(now, h.ErrorAt), termtext.Escape(h.Error))
		}
		for _, k := range h.Kept {
			fmt.Fprintf(w, "  %-*s  kept %s: left the answer %s (kept while connections to it live, and for the grace period)\n", width, "", k.Addr, ago(now, k.Gone))
		}
	}
}

// ago is "2026-12-02 00:08:16 UTC (12s ago)".
func ago(now, t time.Time) string {
	return fmt.Sprintf("%s (%s ago)", t.UTC().Format("2006-01-02 15:04:05 MST"), ruleset.DurationText(now.Sub(t).Truncate(time.Second)))
}

// until is "in 48s", or "due" when t has passed.
func until(now, t time.Time) string {
	if !t.After(now) {
		return "due"
	}
	return "in " + ruleset.DurationText(t.Sub(now).Truncate(time.Second))
}
