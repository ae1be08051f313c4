package policy

import (
	"fmt"
	"sort"
)

// Warning is something in a valid policy file that a careful reviewer
// would flag: it changes nothing by itself (validate, plan and apply go on
// unless --strict), but the file probably does not say what its author
// meant. Every warning has a position, the reason and the fix.
type Warning struct {
	Pos     Pos    `json:"pos"`
	Message string `json:"message"`
	Fix     string `json:"fix"`
}

// String is "FILE:LINE:COL: warning: MESSAGE; FIX".
func (w Warning) String() string {
	if w.Fix == "" {
		return fmt.Sprintf("%s: warning: %s", w.Pos, w.Message)
	}
	return fmt.Sprintf("%s: warning: %s; %s", w.Pos, w.Message, w.Fix)
}

// SortWarnings orders ws by position in the file (stable).
func SortWarnings(ws []Warning) {
	sort.SliceStable(ws, func(i, j int) bool {
		a, b := ws[i].Pos, ws[j].Pos
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

// warnf records a warning at pos with its fix.
func (s *errorSink) warnf(pos Pos, fix, format string, args ...any) {
	s.warns = append(s.warns, Warning{Pos: pos, Message: fmt.Sprintf(format, args...), Fix: fix})
}
