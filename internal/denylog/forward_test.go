package denylog

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestFormatForwarded: a forwarded denial names the host in the USER column.
func TestFormatForwarded(t *testing.T) {
	e := &Event{Type: TypeDeny, Time: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC), Verdict: "drop", Proto: "tcp",
		Src: netip.MustParseAddrPort("192.168.1.10:40000"), Dst: netip.MustParseAddrPort("203.0.113.9:22"),
		InIf: "lan0", MAC: "02:00:00:c8:01:0a", RuleID: "kids-pc/default", Attempts: 1}
	got := Format(Record{Event: e}, time.UTC)
	want := "host(192.168.1.10,02:00:00:c8:01:0a,in=lan0)"
	if !strings.Contains(got, " "+want+" ") {
		t.Errorf("Format = %q, want the USER column %q", got, want)
	}
}

// TestFormatForwardedHostile: an interface name may hold any byte but '/',
// ':' and spaces (the kernel's dev_valid_name), a screen clear included;
// the USER column shows it escaped, as one field.
func TestFormatForwardedHostile(t *testing.T) {
	e := &Event{Type: TypeDeny, Time: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC), Verdict: "drop", Proto: "udp",
		Src: netip.MustParseAddrPort("192.168.1.10:40000"), Dst: netip.MustParseAddrPort("203.0.113.9:53"),
		InIf: "l\x1b[2J\x07", RuleID: "lan/default", Attempts: 1}
	got := Format(Record{Event: e}, time.UTC)
	want := `host(192.168.1.10,in=l\x1b[2J\x07)`
	if !strings.Contains(got, " "+want+" ") || strings.ContainsAny(got, "\x1b\x07") {
		t.Errorf("Format = %q, want the USER column %q", got, want)
	}
}
