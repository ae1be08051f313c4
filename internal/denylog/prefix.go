package denylog

import (
	"fmt"

	"github.com/leash-dev/leash/internal/ruleset"
)

// Verdicts a log prefix can carry.
const (
	VerdictDrop   = "drop"
	VerdictReject = "reject"
)

// ParsePrefix splits a log prefix "leash <ruleID> <verdict>" (written by
// ruleset.LogPrefix) into the rule id and the verdict. It fails for prefixes
// of other tools logging to the same group.
func ParsePrefix(p string) (ruleID, verdict string, err error) {
	id, verdict, ok := ruleset.ParseLogPrefix(p)
	if !ok {
		return "", "", fmt.Errorf("log prefix %q is not leash's (want %q)", p, "leash <rule-id> drop|reject")
	}
	return id, verdict, nil
}
