package denylog

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/leash-dev/leash/internal/termtext"
)

// TimeLayout is how Format prints times: second precision with the zone
// offset, in the location the caller chooses.
const TimeLayout = "2006-01-02T15:04:05Z07:00"

// Format renders a record as one line for a person:
//
//	2026-11-21T12:00:03Z reject apache(2001) 4242/curl /usr/bin/curl nginx.service tcp 192.0.2.10:80 (mail.example.com) webmail/default examples/webmail.yaml:14
//	!! 37 events lost (receive queue overflow)
//
// Fields: time, verdict, user(uid), pid/comm exe, unit, protocol,
// destination (and hostnames), rule, file:line; "?" or "-" when unknown
// (see the package doc), then "(N attempts)" when retransmissions were
// folded: an attempt's line is printed at its first packet, and a line
// with "(N attempts until TIME)" follows when it is over if more came (a
// history written before has only the complete line). Then any note in
// brackets. Every text field is escaped with
// termtext.Field: a record is one line, and its fields cannot be forged.
func Format(r Record, loc *time.Location) string {
	if r.Loss != nil {
		return formatLoss(r.Loss)
	}
	if r.Event == nil {
		return ""
	}
	e := r.Event
	f := []string{
		e.Time.In(loc).Format(TimeLayout),
		orDash(e.Verdict),
		formatUser(e),
		formatProcess(e),
		orDash(termtext.Field(e.Unit)),
		orDash(e.Proto),
		formatDst(e),
		orDash(termtext.Field(e.RuleID)),
		formatWhere(e),
	}
	s := strings.Join(f, " ")
	switch {
	case e.Phase == PhaseMore && !e.Last.IsZero():
		s += fmt.Sprintf(" (%d attempts until %s)", e.Attempts, e.Last.In(loc).Format(TimeLayout))
	case e.Attempts > 1:
		s += fmt.Sprintf(" (%d attempts)", e.Attempts)
	}
	if e.Note != "" {
		s += " [" + termtext.Escape(e.Note) + "]"
	}
	return s
}

func formatLoss(l *Loss) string { return "!! " + l.String() }

// String says how many events were lost and why: "37 events lost (receive
// queue overflow)".
func (l *Loss) String() string {
	var s string
	if l.Lost > 0 {
		s = fmt.Sprintf("%d events lost (%s)", l.Lost, l.Reason)
	} else {
		s = fmt.Sprintf("events lost (%s)", l.Reason)
	}
	if l.Overruns > 0 {
		s += fmt.Sprintf(", %d overflow reports", l.Overruns)
	}
	return s
}

func formatUser(e *Event) string {
	switch {
	case e.UID == nil && (e.InIf != "" || e.MAC != ""):
		return formatHost(e)
	case e.UID == nil:
		return "(no-owner)"
	case e.User == "":
		return fmt.Sprintf("(%d)", *e.UID)
	}
	return fmt.Sprintf("%s(%d)", termtext.Field(e.User), *e.UID)
}

func formatProcess(e *Event) string {
	if e.PID == 0 {
		return "?"
	}
	s := strconv.Itoa(e.PID) + "/" + orDash(termtext.Field(e.Comm))
	if e.Exe != "" {
		s += " " + termtext.Field(e.Exe)
	}
	return s
}

func formatDst(e *Event) string {
	var s string
	switch {
	case !e.Dst.Addr().IsValid():
		s = "?"
	case e.ICMP != nil:
		s = fmt.Sprintf("%s type %d code %d", e.Dst.Addr(), e.ICMP.Type, e.ICMP.Code)
	case e.Dst.Port() == 0:
		s = e.Dst.Addr().String()
	default:
		s = netip.AddrPortFrom(e.Dst.Addr(), e.Dst.Port()).String()
	}
	if len(e.Hostnames) > 0 {
		names := make([]string, len(e.Hostnames))
		for i, h := range e.Hostnames {
			names[i] = termtext.Field(h)
		}
		s += " (" + strings.Join(names, ",") + ")"
	}
	return s
}

func formatWhere(e *Event) string {
	if e.File == "" {
		return "-"
	}
	if e.Line == 0 {
		return termtext.Field(e.File)
	}
	return fmt.Sprintf("%s:%d", termtext.Field(e.File), e.Line)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
