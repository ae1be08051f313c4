package denylog

import (
	"fmt"
	"regexp"
	"strings"
)

// Verdicts a log prefix can carry.
const (
	VerdictDrop   = "drop"
	VerdictReject = "reject"
)

// prefixTag is the first word of every prefix leash's rules log with.
const prefixTag = "leash"

// ruleIDRE is an Origin.ID: a policy name (or "baseline") and a part such as
// r3, default, loopback, unowned.
var ruleIDRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}/[a-z0-9][a-z0-9_-]{0,31}$`)

// Prefix formats the log prefix of a rule, "leash <ruleID> <verdict>"; the
// inverse of ParsePrefix.
func Prefix(ruleID, verdict string) string {
	return prefixTag + " " + ruleID + " " + verdict
}

// ParsePrefix splits a log prefix "leash <ruleID> <verdict>" into the rule id
// and the verdict. It fails for prefixes of other tools logging to the same
// group, and for malformed ones.
func ParsePrefix(p string) (ruleID, verdict string, err error) {
	f := strings.Fields(strings.TrimRight(p, "\x00"))
	if len(f) != 3 || f[0] != prefixTag {
		return "", "", fmt.Errorf("log prefix %q is not leash's (want %q)", p, "leash <rule-id> drop|reject")
	}
	if !ruleIDRE.MatchString(f[1]) {
		return "", "", fmt.Errorf("log prefix %q: bad rule id %q", p, f[1])
	}
	if f[2] != VerdictDrop && f[2] != VerdictReject {
		return "", "", fmt.Errorf("log prefix %q: verdict %q is neither drop nor reject", p, f[2])
	}
	return f[1], f[2], nil
}
