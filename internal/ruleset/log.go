package ruleset

import (
	"fmt"
	"strings"
)

// DefaultLogGroup is the NFLOG group denials are logged to unless the policy
// file sets baseline.log.group.
const DefaultLogGroup = 4242

// LogSnapLen is how many bytes of a logged packet the kernel copies to the
// log reader: enough for the IP header (IPv6 with some extension headers)
// and the transport header, which is all `leash log` decodes.
const LogSnapLen = 128

// maxLogPrefix is the longest NFLOG prefix the kernel keeps
// (NF_LOG_PREFIXLEN, 128, including the terminating NUL).
const maxLogPrefix = 127

// logPrefixTag starts every prefix leash writes.
const logPrefixTag = "leash"

// LogPrefix is the NFLOG prefix of a denial by rule id with verdict kind v:
// "leash webmail/default reject" or "leash supporters-no-lan/r1 drop".
// ParseLogPrefix reverses it.
func LogPrefix(id string, v VerdictKind) string {
	word := "drop"
	if v == RejectTCPRST || v == RejectAdmin {
		word = "reject"
	}
	return logPrefixTag + " " + id + " " + word
}

// ParseLogPrefix splits a prefix written by LogPrefix into the rule id and
// "drop" or "reject". ok is false for prefixes leash did not write.
func ParseLogPrefix(prefix string) (id, verdict string, ok bool) {
	f := strings.Fields(prefix)
	if len(f) != 3 || f[0] != logPrefixTag || (f[2] != "drop" && f[2] != "reject") {
		return "", "", false
	}
	return f[1], f[2], true
}

// LogUnitSeconds is the length of a rate unit in seconds (0 if unknown).
func LogUnitSeconds(unit string) uint64 {
	switch unit {
	case "second":
		return 1
	case "minute":
		return 60
	case "hour":
		return 3600
	case "day":
		return 86400
	}
	return 0
}

func validateLog(l *LogAction) error {
	switch {
	case l == nil:
		return fmt.Errorf("log verdict without log settings")
	case len(l.Prefix) > maxLogPrefix || strings.ContainsAny(l.Prefix, "\"\n\x00"):
		return fmt.Errorf("log prefix %q: at most %d bytes, no quote, newline or NUL", l.Prefix, maxLogPrefix)
	case l.Rate == 0 || LogUnitSeconds(l.Unit) == 0:
		return fmt.Errorf("log rate %d/%s: want a positive rate per second, minute, hour or day", l.Rate, l.Unit)
	case l.Burst == 0:
		return fmt.Errorf("log burst must be positive")
	}
	return nil
}

// logText renders the statement after the counter.
func logText(l *LogAction) string {
	return fmt.Sprintf("log prefix %q group %d snaplen %d", l.Prefix, l.Group, LogSnapLen)
}

// limitText renders the rate limit before the counter.
func limitText(l *LogAction) string {
	return fmt.Sprintf("limit rate %d/%s burst %d packets", l.Rate, l.Unit, l.Burst)
}
