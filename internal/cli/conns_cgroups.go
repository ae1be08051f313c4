package cli

import (
	"strings"

	"github.com/leash-dev/leash/internal/engine"
	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/sockowner"
)

// cgroupIDsOf returns what conns judges a connection's program by: the ids
// of a cgroup path (as /proc/PID/cgroup names it) and its ancestors, read
// from the host's cgroup2 tree; nil without one.
func cgroupIDsOf(d Deps) func(path string) []uint64 {
	if d.Cgroups == nil {
		return nil
	}
	fs, err := d.Cgroups()
	if err != nil {
		return nil
	}
	return func(p string) []uint64 {
		ids, err := fs.Path(strings.Trim(p, "/"))
		if err != nil {
			return nil
		}
		return ids
	}
}

// socketCgroup is the cgroup path conns judges s's program by: that of a
// holding process with the socket's uid (most likely its creator; the
// socket's own cgroup is where it was made, which sock_diag gives as an id
// only), else of the first holder.
func socketCgroup(s sockowner.Owned) string {
	for _, p := range s.Processes {
		if p.FSUID == s.UID {
			return p.Cgroup
		}
	}
	if len(s.Processes) > 0 {
		return s.Processes[0].Cgroup
	}
	return ""
}

// withLiveCgroups is rs with the elements of its live cgroup sets as the
// live snapshot last recorded them (leash daemon's classification of
// cgroups made after the apply), so a restarted unit is judged by its
// policy, as the kernel does.
func withLiveCgroups(e *engine.Engine, rs *ruleset.Ruleset) *ruleset.Ruleset {
	snap, err := e.Store.Live()
	if err != nil || snap == nil {
		return rs
	}
	out := *rs
	out.Sets = make([]*ruleset.Set, len(rs.Sets))
	for i, s := range rs.Sets {
		out.Sets[i] = s
		if s.Kind != ruleset.KindCgroup || s.Live == nil {
			continue
		}
		for _, l := range snap.Sets {
			if ruleset.SameLive(s, l) {
				c := *s
				c.SetElements(append(s.Elements(), l.Elements()...))
				out.Sets[i] = &c
			}
		}
	}
	return &out
}
