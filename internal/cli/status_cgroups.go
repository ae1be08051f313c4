package cli

import (
	"fmt"
	"io"
	"slices"

	"github.com/leash-dev/leash/internal/cgroups"
	"github.com/leash-dev/leash/internal/engine"
	"github.com/leash-dev/leash/internal/state"
	"github.com/leash-dev/leash/internal/termtext"
)

// cgroupStatusJSON is one governed cgroup in leash status.
type cgroupStatusJSON struct {
	Path   string `json:"path"`
	Policy string `json:"policy"`
	// ID is its current cgroup id (0: it does not exist now).
	ID uint64 `json:"id,omitempty"`
	// Classified: the id is in its policy's live set, as the last live
	// update recorded (leash daemon keeps it so).
	Classified bool `json:"classified"`
}

// governedCgroups lists the cgroups gen's policy governs with their
// current ids, and whether the live sets hold them; nil when it governs
// none or the tree cannot be read.
func governedCgroups(d Deps, e *engine.Engine, gen *state.Generation) []cgroupStatusJSON {
	if gen == nil || d.Cgroups == nil {
		return nil
	}
	plan, err := engine.CgroupPlan(gen)
	if err != nil || plan.Empty() {
		return nil
	}
	fs, err := d.Cgroups()
	if err != nil {
		return nil
	}
	held := map[string][]uint64{}
	if snap, err := e.Store.Live(); err == nil && snap != nil {
		for _, s := range snap.Sets {
			held[s.Name] = s.Cgroups
		}
	}
	var out []cgroupStatusJSON
	for _, g := range plan.Governed() {
		c := cgroupStatusJSON{Path: g.Path, Policy: g.Policy}
		if id, ok, err := fs.ID(g.Path); err == nil && ok {
			c.ID = id
			_, c.Classified = slices.BinarySearch(held[cgroups.SetName(cgroups.Gov, cgroups.Level(g.Path))], id)
		}
		out = append(out, c)
	}
	return out
}

func printCgroups(w io.Writer, cs []cgroupStatusJSON) {
	if len(cs) == 0 {
		return
	}
	fmt.Fprintln(w, "\ngoverned cgroups (policy, current id):")
	for _, c := range cs {
		switch {
		case c.ID == 0:
			fmt.Fprintf(w, "  %-40s %s  (does not exist now)\n", termtext.Field(c.Path), termtext.Field(c.Policy))
		case c.Classified:
			fmt.Fprintf(w, "  %-40s %s  id %d\n", termtext.Field(c.Path), termtext.Field(c.Policy), c.ID)
		default:
			fmt.Fprintf(w, "  %-40s %s  id %d, not classified yet: its packets are held (is leash daemon running?)\n", termtext.Field(c.Path), termtext.Field(c.Policy), c.ID)
		}
	}
}
