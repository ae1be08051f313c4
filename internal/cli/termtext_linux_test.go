package cli

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/proof"
)

// TestReportHostileText: leash test's report (file, notes, positions,
// sources, users, destinations, rule ids, failure reasons) is escaped.
func TestReportHostileText(t *testing.T) {
	pos := policy.Pos{File: evil + ".yaml", Line: 3, Col: 5}
	rep := fileReport{File: evil + ".yaml", Notes: []string{"at " + evil}, Passed: 1, Failed: 2, Results: []proof.Result{
		{Case: proof.Case{Source: "{as: " + evil + "}", Pos: pos, As: policy.Identity{Name: evil, Desc: evil},
			Target: policy.Target{Host: evil + ".example", Port: 80, Proto: "tcp"}, Addr: netip.MustParseAddr("192.0.2.1")},
			Check: "deny", CheckBy: "p/" + evil, Why: "kernel " + evil},
		{Case: proof.Case{Source: evil, Pos: pos, Err: "bad " + evil}},
	}}
	var out bytes.Buffer
	printReport(&out, rep)
	requireEscaped(t, "test report", out.String())
}
