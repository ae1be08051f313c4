package denylog

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestFormat(t *testing.T) {
	full := &Event{
		Time: t0, UID: uid(2001), User: "apache", GID: uid(2001), PID: 4242, Comm: "curl", Exe: "/usr/bin/curl",
		Unit: "cron.service", Family: "ipv4", Proto: "tcp", Src: ap("10.0.0.1:40000"), Dst: ap("192.0.2.10:80"),
		RuleID: "webmail/default", Verdict: "reject", Policy: "webmail", File: "examples/webmail.yaml", Line: 14,
		Hostnames: []string{"mail.example.com"}, Attempts: 3,
	}
	tests := []struct {
		name string
		in   Record
		want string
	}{
		{
			name: "everything known",
			in:   Record{Event: full},
			want: "2020-11-21T12:00:00Z reject apache(2001) 4242/curl /usr/bin/curl cron.service tcp 192.0.2.10:80 (mail.example.com) webmail/default examples/webmail.yaml:14 (3 attempts)",
		},
		{
			name: "the second record of an attempt",
			in: Record{Event: &Event{Time: t0, Last: t0.Add(3 * time.Second), UID: uid(4321), Proto: "tcp", Dst: ap("192.0.2.10:80"),
				RuleID: "p/r1", Verdict: "drop", Attempts: 3, Phase: PhaseMore}},
			want: "2020-11-21T12:00:00Z drop (4321) ? - tcp 192.0.2.10:80 p/r1 - (3 attempts until 2020-11-21T12:00:03Z)",
		},
		{
			name: "unknown process, user name and origin; ipv6",
			in: Record{Event: &Event{Time: t0, UID: uid(4321), Proto: "udp", Dst: ap("[2001:db8::1]:53"),
				RuleID: "p/r1", Verdict: "drop", Attempts: 1}},
			want: "2020-11-21T12:00:00Z drop (4321) ? - udp [2001:db8::1]:53 p/r1 -",
		},
		{
			name: "icmp, no owner, a note",
			in: Record{Event: &Event{Time: t0, Proto: "icmp", Dst: ap("198.51.100.7:0"), ICMP: &ICMP{Type: 8},
				RuleID: "baseline/unowned", Verdict: "drop", Attempts: 1, Note: "process lookup skipped under load"}},
			want: "2020-11-21T12:00:00Z drop (no-owner) ? - icmp 198.51.100.7 type 8 code 0 baseline/unowned - [process lookup skipped under load]",
		},
		{
			// A restricted user names her process, directory and unit to
			// clear the admin's screen, set the title, and forge a line
			// blaming root: everything stays on one visible line.
			name: "hostile names are escaped, one record one line",
			in: Record{Event: &Event{Time: t0, UID: uid(2001), User: "apache", PID: 4242,
				Comm: "\x1b[2J\x1b]0;pwn\x07", Exe: "/tmp/a b\r\x1b[2K\n2020-11-21T12:00:00Z reject root(0) 1/init",
				Unit: "x\u202e.service", Proto: "tcp", Dst: ap("192.0.2.10:80"), Hostnames: []string{"m\u009b2J.example"},
				RuleID: "webmail/default", Verdict: "reject", File: "p\xff.yaml", Line: 3, Attempts: 1, Note: "n\x1b[1m"}},
			want: `2020-11-21T12:00:00Z reject apache(2001) 4242/\x1b[2J\x1b]0;pwn\x07 /tmp/a\x20b\r\x1b[2K\n2020-11-21T12:00:00Z\x20reject\x20root(0)\x201/init x\u202e.service tcp 192.0.2.10:80 (m\u009b2J.example) webmail/default p\xff.yaml:3 [n\x1b[1m]`,
		},
		{
			name: "loss",
			in:   Record{Loss: &Loss{Time: t0, Lost: 37, Reason: ReasonOverflow}},
			want: "!! 37 events lost (receive queue overflow)",
		},
		{
			name: "loss of unknown size",
			in:   Record{Loss: &Loss{Time: t0, Overruns: 2, Reason: ReasonUnknown}},
			want: "!! events lost (receive queue overflow; how many is unknown (no message arrived after it)), 2 overflow reports",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Format(tt.in, time.UTC); got != tt.want {
				t.Errorf("Format:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestRecordJSONRoundTrip(t *testing.T) {
	for _, r := range []Record{
		{Event: &Event{Time: t0, UID: uid(0), Proto: "tcp", Src: ap("10.0.0.1:1"), Dst: ap("192.0.2.1:2"), RuleID: "p/r1", Verdict: "drop", Attempts: 1}},
		{Loss: &Loss{Time: t0, Lost: 5, Reason: ReasonOverflow}},
	} {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var back Record
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if r.Event != nil {
			r.Event.Type = TypeDeny
		} else {
			r.Loss.Type = TypeLost
		}
		if diff := cmp.Diff(r, back, cmpopts.EquateComparable(netip.AddrPort{})); diff != "" {
			t.Errorf("round trip of %s (-want +got):\n%s", b, diff)
		}
	}
	var r Record
	if err := json.Unmarshal([]byte(`{"type":"other"}`), &r); err == nil {
		t.Error("unknown type accepted")
	}
}
