package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/leash-dev/leash/internal/drift"
	"github.com/leash-dev/leash/internal/engine"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/state"
)

// TestCheckHostileNames: a user name from the directory (LDAP) and a
// destination holding terminal controls are printed escaped by check.
func TestCheckHostileNames(t *testing.T) {
	var out bytes.Buffer
	printVerdicts(&out, []verdictJSON{{
		User: "eve\x1b[2J", UID: 2001, Dest: "192.0.2.1:80/tcp (h\x1b]0;pwn\x07.example)", Verdict: "deny",
		Kernel: "drop", ID: "p/r1", Text: "deny: {to: [x]}", Where: "/tmp/\r\n.yaml:3:5",
	}})
	want := `deny   eve\x1b[2J (uid 2001) -> 192.0.2.1:80/tcp (h\x1b]0;pwn\x07.example)
       by p/r1: deny: {to: [x]}  (/tmp/\r\n.yaml:3:5)
       kernel: drop
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("check output (-want +got):\n%s", diff)
	}
}

// TestReportEscapes: error messages quoting hostile paths or names stay on
// their lines and carry no control sequence; policy errors one per line.
func TestReportEscapes(t *testing.T) {
	var out bytes.Buffer
	Report(&out, errors.New("open /tmp/\x1b[2J\u202e/policy.yaml: no such file\nsecond line"))
	Report(&out, policy.ErrorList{
		{Pos: policy.Pos{File: "b.yaml", Line: 2, Col: 1}, Msg: "evil\nb.yaml:1:1: forged"},
		{Pos: policy.Pos{File: "a\x07.yaml", Line: 1, Col: 1}, Msg: "m"},
	})
	want := `leash: open /tmp/\x1b[2J\u202e/policy.yaml: no such file
second line
a\x07.yaml:1:1: m
b.yaml:2:1: evil\nb.yaml:1:1: forged
leash: 2 error(s); nothing was changed
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("Report (-want +got):\n%s", diff)
	}
}

// evil is a name holding what a hostile user puts in paths, hostnames and
// unit names: a screen clear, a title change, an erase-line, a newline that
// starts a forged line, a bidi override.
const evil = "x\x1b[2J\x1b]0;pwn\x07\r\x1b[K\nFORGED\u202e"

// requireEscaped fails t if out holds any control byte but the newline, a
// bidi override, or a line starting with the forged text.
func requireEscaped(t *testing.T, what, out string) {
	t.Helper()
	for i := 0; i < len(out); i++ {
		if b := out[i]; (b < 0x20 && b != '\n') || b == 0x7f {
			t.Fatalf("%s prints control byte %#x raw at %d:\n%s", what, b, i, out)
		}
	}
	if strings.Contains(out, "\u202e") {
		t.Errorf("%s prints a bidi override raw:\n%s", what, out)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "FORGED") {
			t.Errorf("%s lets a name start a line of its own:\n%s", what, out)
		}
	}
}

// TestStatusHostileText: every name status shows (policy file, state
// directory, hostnames and their errors, cgroup paths, forwarded subjects,
// rule sources, foreign content, pending and interrupted changes) comes out
// escaped, one record per line.
func TestStatusHostileText(t *testing.T) {
	now := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	since := now.Add(-time.Minute)
	s := statusJSON{
		Report:      drift.Report{State: drift.Drifted, Foreign: []string{"rule " + evil}},
		StateDir:    "/srv/" + evil,
		Generation:  &generationJSON{ID: 3, Time: now, PolicyFile: "/etc/leash/" + evil + ".yaml"},
		TableExists: true,
		Counters: []drift.ChainCounters{{Chain: "p_web", Policy: "web", Rules: []drift.RuleCounters{
			{ID: "web/r1", Verdict: "accept", Source: evil + ".yaml:3:5", Text: "allow: {to: [" + evil + "]}"}}}},
		Interrupted:  &engine.Interrupted{Generation: 4, Action: "apply", Since: &since, Outcome: state.RolledBack, Reason: "read " + evil},
		Pending:      &engine.PendingReport{State: engine.PendingUnreadable, Error: "open " + evil},
		Hosts:        &hostsJSON{Record: now, Error: evil, Hosts: []hostJSON{{Name: evil + ".example", Refreshed: now, Error: "lookup " + evil, ErrorAt: now}}},
		Cgroups:      []cgroupStatusJSON{{Path: "system.slice/" + evil + ".service", Policy: "web", ID: 7, Classified: true}},
		Forward:      []forwardStatusJSON{{Policy: "lan", Subjects: []string{"host " + evil}}},
		now:          now,
		expectsTable: true,
	}
	var out bytes.Buffer
	printStatus(&out, s)
	requireEscaped(t, "status", out.String())
	if !strings.Contains(out.String(), `\x1b[2J`) {
		t.Errorf("status does not show the escaped name:\n%s", out.String())
	}
}

// TestHistoryHostileText: history's lines (policy file, summary, errors)
// are escaped.
func TestHistoryHostileText(t *testing.T) {
	var out bytes.Buffer
	rows := []historyJSON{
		{Meta: state.Meta{ID: 1, Time: time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC), PolicyFile: "/etc/" + evil, Summary: evil}, Current: true},
		{Meta: state.Meta{ID: 2}, Error: "decode " + evil},
	}
	printHistory(Deps{Stdout: &out}, rows, nil)
	requireEscaped(t, "history", out.String())
}
