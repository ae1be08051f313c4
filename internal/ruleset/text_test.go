package ruleset

import (
	"strings"
	"testing"
)

// TestTextEscapesSources: a policy path holding a newline cannot end the
// `# FILE:LINE: source` comment and inject nft commands into `leash export`
// output, nor put terminal controls into `leash show`.
func TestTextEscapesSources(t *testing.T) {
	rs := &Ruleset{Chains: []*Chain{{Name: "c\x1b[2J", Rules: []*Rule{{
		Verdict: Verdict{Kind: Accept},
		Origin:  Origin{ID: "p/r1", File: "/tmp/x\nflush ruleset\n#.yaml", Line: 3, Col: 5, Text: "allow: {}\x1b]0;pwn\x07"},
	}}}}}
	got := Text(rs, TextOptions{Sources: true})
	for _, bad := range []string{"\nflush ruleset", "\x1b", "\x07"} {
		if strings.Contains(got, bad) {
			t.Errorf("Text holds %q:\n%s", bad, got)
		}
	}
	for _, want := range []string{`# /tmp/x\nflush ruleset\n#.yaml:3:5: allow: {}\x1b]0;pwn\x07`, `chain c\x1b[2J {`} {
		if !strings.Contains(got, want) {
			t.Errorf("Text lacks %s:\n%s", want, got)
		}
	}
}
