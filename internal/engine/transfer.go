package engine

import (
	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/state"
)

// Transfer is a Compiled as it crosses to another process (the command
// line's compiled policy to the daemon's LocalAPI): what Apply loads and
// records, with the path made absolute where the policy was compiled (the
// daemon's working directory is another). JSON round-trips.
type Transfer struct {
	Path    string              `json:"path"`
	Source  []byte              `json:"source"`
	Ruleset *ruleset.Ruleset    `json:"ruleset"`
	Summary Summary             `json:"summary"`
	Hosts   map[string][]string `json:"hosts,omitempty"`
	// Windows: when the ruleset's time windows end (nil: none).
	Windows *state.Windows `json:"windows,omitempty"`
}

// Transfer is c for another process to apply.
func (c *Compiled) Transfer() Transfer {
	return Transfer{Path: c.absPath(), Source: c.Source, Ruleset: c.Ruleset, Summary: c.Summary(), Hosts: c.hosts(), Windows: c.windows()}
}

// Compiled is the transferred policy, ready for Apply. It has no resolved
// model: Warnings is empty, and Summary and the recorded hostnames are
// the ones computed where it was compiled.
func (t Transfer) Compiled() *Compiled {
	return &Compiled{Path: t.Path, Source: t.Source, Ruleset: t.Ruleset, transferred: &t}
}
