package cli

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/leash-dev/leash/internal/policy"
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
