package engine

import (
	"fmt"
	"time"

	"github.com/leash-dev/leash/internal/state"
)

// FormatTime formats a time for people: "2026-11-21 12:00:00 UTC".
func FormatTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 MST") }

// Describe names a generation for people: "generation 3 (apply /etc/leash/policy.yaml)".
func Describe(m state.Meta) string {
	return fmt.Sprintf("generation %d (%s)", m.ID, How(m))
}

// How says how a generation came about, with its policy file.
func How(m state.Meta) string {
	s := string(m.What())
	if m.Note != "" {
		s = m.Note
	}
	if m.PolicyFile != "" {
		s += " " + m.PolicyFile
	}
	return s
}

// intactIDs lists the generations other than except whose metadata reads,
// for repair hints.
func (e *Engine) intactIDs(except int) []string {
	entries, err := e.Store.History()
	if err != nil {
		return nil
	}
	var ids []string
	for _, en := range entries {
		if en.Err == nil && en.ID != except {
			ids = append(ids, fmt.Sprint(en.ID))
		}
	}
	return ids
}
