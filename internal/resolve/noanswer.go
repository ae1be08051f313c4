package resolve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"
)

// NoAnswerError says that no server gave a usable answer for a name: every
// try timed out, was refused or got an error code back (SERVFAIL, ...), or
// the overall deadline ran out first. Unlike *NotFoundError it says nothing
// about the name itself.
type NoAnswerError struct {
	Host string
	// Failures say, per server in the order first tried, what went wrong.
	Failures []ServerFailure
	// Deadline is the overall deadline (DNS.Deadline, leash's
	// --dns-timeout) when it cut the lookup short, and 0 otherwise.
	Deadline time.Duration
}

// ServerFailure is why one server gave no usable answer.
type ServerFailure struct {
	Server string // host:port
	// Reasons are unique, in the order seen: "timeout", "connection
	// refused", "SERVFAIL", "TCP timeout" (after a truncated answer), ...
	Reasons []string
}

func (e *NoAnswerError) Error() string {
	switch {
	case len(e.Failures) == 0 && e.Deadline > 0:
		return fmt.Sprintf("%s: not asked: --dns-timeout %s ran out first", e.Host, e.Deadline)
	case e.Deadline > 0:
		return fmt.Sprintf("%s: %s before --dns-timeout %s ran out", e.Host, describeFailures(e.Failures), e.Deadline)
	}
	return fmt.Sprintf("%s: %s", e.Host, describeFailures(e.Failures))
}

// describeFailures says "no answer from 192.0.2.53:53 (timeout), [2001:db8::53]:53 (SERVFAIL)".
func describeFailures(fs []ServerFailure) string {
	if len(fs) == 0 {
		return "no server was asked"
	}
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = fmt.Sprintf("%s (%s)", f.Server, strings.Join(f.Reasons, ", "))
	}
	return "no answer from " + strings.Join(parts, ", ")
}

// addFailure records that server failed for reason, keeping fs in the order
// servers were first seen and each server's reasons unique.
func addFailure(fs []ServerFailure, server, reason string) []ServerFailure {
	for i := range fs {
		if fs[i].Server == server {
			if !slices.Contains(fs[i].Reasons, reason) {
				fs[i].Reasons = append(fs[i].Reasons, reason)
			}
			return fs
		}
	}
	return append(fs, ServerFailure{Server: server, Reasons: []string{reason}})
}

// mergeFailures adds every failure of more to fs.
func mergeFailures(fs, more []ServerFailure) []ServerFailure {
	for _, f := range more {
		for _, r := range f.Reasons {
			fs = addFailure(fs, f.Server, r)
		}
	}
	return fs
}

// reason names why an exchange failed, in a few words.
func reason(err error) string {
	var ne net.Error
	var se *os.SyscallError
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(err, &se):
		return se.Err.Error()
	}
	return err.Error()
}

// summarize returns one error for the names of a batch that got no answer
// (*NoAnswerError) when there are at least two of them, naming how many
// and every server's failures; nil otherwise (a single failure is said well
// enough by its own error).
func summarize(results []Result) error {
	var (
		fails    []ServerFailure
		n        int
		deadline time.Duration
	)
	for _, r := range results {
		var na *NoAnswerError
		if errors.As(r.Err, &na) {
			n++
			fails = mergeFailures(fails, na.Failures)
			deadline = max(deadline, na.Deadline)
		}
	}
	if n < 2 {
		return nil
	}
	count := fmt.Sprintf("%d hostnames", n)
	if n < len(results) {
		count = fmt.Sprintf("%d of %d hostnames", n, len(results))
	}
	within := ""
	if deadline > 0 {
		within = fmt.Sprintf(" within --dns-timeout %s", deadline)
	}
	return fmt.Errorf("%s could not be resolved%s: %s", count, within, describeFailures(fails))
}
