package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/state"
	"github.com/leash-dev/leash/internal/termtext"
)

// shortSummary is the one-line description history shows for a policy.
func shortSummary(c *compiled) string {
	s := summarize(c)
	return fmt.Sprintf("%d policies, %d rules, %d hostnames", s.Policies, s.Rules, s.Hostnames)
}

// enforce puts a stored ruleset into the kernel; nil means no table.
func enforce(k Kernel, rs *ruleset.Ruleset) error {
	if rs == nil {
		return k.Reset()
	}
	return k.Apply(rs)
}

// loadIntact reads generation id and checks that its ruleset is loadable. A
// generation that does not exist gives an error wrapping os.ErrNotExist, a
// damaged one a *state.CorruptError naming the file.
func loadIntact(st *state.Store, id int) (*state.Generation, error) {
	gen, err := st.Load(id)
	if err != nil {
		return nil, err
	}
	if gen.Ruleset != nil {
		if err := ruleset.Validate(gen.Ruleset); err != nil {
			return nil, &state.CorruptError{Path: st.GenerationFile(id), Err: err}
		}
	}
	return gen, nil
}

// replay records, in two phases around enforcing it (recordChange), a new
// generation that puts src's ruleset (and policy) in force again; src nil
// means "no table". m gives the action and note, what names the change in
// messages, and refused words the kernel's refusal (nothing changed).
func replay(d Deps, st *state.Store, k Kernel, src *state.Generation, m state.Meta, what string, refused func(error) error) (int, error) {
	m.Time = d.Now().UTC()
	g := &state.Generation{Meta: m}
	if src != nil {
		g.Source, g.PolicyFile, g.Summary = src.ID, src.PolicyFile, src.Summary
		g.Ruleset, g.Hosts, g.Policy = src.Ruleset, src.Hosts, src.Policy
	}
	return recordChange(d, st, g, true, what, func(int) error {
		if err := enforce(k, g.Ruleset); err != nil {
			return refused(err)
		}
		return nil
	})
}

// prune drops old generations after a save; a failure only warns, since
// the change itself is done and recorded.
func prune(d Deps, st *state.Store) {
	if _, err := st.Prune(); err != nil {
		fmt.Fprintf(d.Stderr, "leash: warning: %v\n", err)
	}
}

// stateExists reports whether the state directory exists at all (leash was
// ever used with it).
func stateExists(g *globals) (bool, error) {
	_, err := os.Stat(g.stateDir)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("state directory: %w", err)
	}
	return true, nil
}

// describe names a generation for people: "generation 3 (apply /etc/leash/policy.yaml)".
func describe(m state.Meta) string {
	return fmt.Sprintf("generation %d (%s)", m.ID, what(m))
}

// what says how a generation came about, with its policy file.
func what(m state.Meta) string {
	var s string
	switch {
	case m.Note != "":
		s = termtext.Escape(m.Note)
	default:
		s = string(m.What())
	}
	if m.PolicyFile != "" {
		s += " " + termtext.Escape(m.PolicyFile)
	}
	return s
}

// leashCommand is the command line that repeats this invocation's
// --netns and --state-dir, for messages that tell people what to run.
func leashCommand(g *globals, sub string) string {
	parts := []string{"leash"}
	if g.netns != "" {
		parts = append(parts, "--netns", g.netns)
	}
	if filepath.Clean(g.stateDir) != state.DefaultDir {
		parts = append(parts, "--state-dir", g.stateDir)
	}
	return strings.Join(append(parts, sub), " ")
}

// intactIDs lists the generations other than except whose metadata reads,
// for repair hints.
func intactIDs(st *state.Store, except int) []string {
	entries, err := st.History()
	if err != nil {
		return nil
	}
	var ids []string
	for _, e := range entries {
		if e.Err == nil && e.ID != except {
			ids = append(ids, fmt.Sprint(e.ID))
		}
	}
	return ids
}
