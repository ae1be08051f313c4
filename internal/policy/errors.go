package policy

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Error is one problem in a policy file, at a position.
type Error struct {
	Pos Pos
	Msg string
}

// Error formats the error as FILE:LINE:COL: message.
func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// ErrorList is every problem found in a policy file. Parse, Resolve and Load
// return an ErrorList (never an empty one) as their error.
type ErrorList []*Error

// Error prints one error per line, sorted by position.
func (l ErrorList) Error() string {
	l.Sort()
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Sort orders the list by file, line and column; errors at the same position
// keep their order.
func (l ErrorList) Sort() {
	slices.SortStableFunc(l, func(a, b *Error) int {
		return cmp.Or(
			cmp.Compare(a.Pos.File, b.Pos.File),
			cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Col, b.Pos.Col))
	})
}

// Unwrap exposes the individual errors to errors.Is and errors.As.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// err returns l sorted as an error, or nil when l is empty.
func (l ErrorList) err() error {
	if len(l) == 0 {
		return nil
	}
	l.Sort()
	return l
}

// errorSink collects errors.
type errorSink struct {
	errs  ErrorList
	warns []Warning
}

// errorf records an error at pos. The message is kept on one line (errors
// of resolvers may span several), so that every line of ErrorList.Error is
// FILE:LINE:COL: message.
func (s *errorSink) errorf(pos Pos, format string, args ...any) {
	msg := strings.ReplaceAll(fmt.Sprintf(format, args...), "\n", "; ")
	s.errs = append(s.errs, &Error{Pos: pos, Msg: msg})
}

// suggest returns `; did you mean "X"?` when one of known is close to got,
// and "" otherwise.
func suggest(got string, known []string) string {
	limit := 2 // edits allowed; short words get fewer, or anything matches
	if len(got) <= 4 {
		limit = 1
	}
	best, bestDist := "", limit+1
	for _, k := range known {
		if d := editDistance(strings.ToLower(got), k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best == "" || len(got) <= 1 {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

// editDistance is the Levenshtein distance between a and b (in bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
