package daemon

import (
	"context"
	"path/filepath"

	"github.com/leash-dev/leash/internal/cgroups"
	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/engine"
	"github.com/leash-dev/leash/internal/ruleset"
)

// CgroupWatch reports changes below watched cgroup2 directories
// (cgroups.Watch).
type CgroupWatch interface {
	// Set makes dirs (absolute) the watched directories.
	Set(dirs []string) error
	// Changed signals that something below a watched directory changed.
	Changed() <-chan struct{}
	Close() error
}

// Cgroups is what the daemon keeps the generation's cgroup sets fresh
// with: the host's cgroup2 tree (Tree, mounted at Root) and a watch on it.
type Cgroups struct {
	Tree  cgroups.Tree
	Root  string
	Watch CgroupWatch
}

// cgroupKeeper keeps the live sets of cgroup ids (compile/cgroups.go) in
// step with the tree: the generation's plan (engine.CgroupPlan), the
// directories it watches, and the elements the kernel holds as far as the
// last update said.
type cgroupKeeper struct {
	Cgroups
	gen  int // the generation the plan is of (0: none yet)
	plan *cgroups.Plan
	have map[string][]ruleset.Element // set -> elements after the last update
}

// cgroupChanged is the watch's signal, nil (never) without cgroups.
func (d *daemon) cgroupChanged() <-chan struct{} {
	if d.cg == nil {
		return nil
	}
	return d.cg.Watch.Changed()
}

// keepCgroups brings the cgroup sets of the generation in force up to
// date: it re-reads the plan when the generation changed, watches the
// plan's existing directories (before scanning them, so a cgroup made
// after the scan is an event), scans them, and adds and deletes elements
// through engine.UpdateLive, one transaction. A new watched directory
// and its children go in together, so no cgroup below it is ever judged
// before its parent is known as watched. Errors are logged: the next
// event or repair pass tries again; meanwhile the kernel holds what it
// had, and unclassified cgroups stay held (fail closed).
func (d *daemon) keepCgroups(ctx context.Context) {
	if d.Config.Cgroups == nil {
		return
	}
	if d.cg == nil {
		d.cg = &cgroupKeeper{Cgroups: *d.Config.Cgroups}
	}
	k := d.cg
	gen, _, err := d.Engine.View()
	if err != nil || gen == nil {
		return
	}
	if gen.ID != k.gen {
		plan, err := engine.CgroupPlan(gen)
		if err != nil {
			d.Log.Error("cgroups: the policy in force has no readable cgroup plan", "generation", gen.ID, "err", err)
			return
		}
		k.gen, k.plan, k.have = gen.ID, plan, nil
	}
	var dirs []string
	for _, w := range k.plan.Watched() {
		dirs = append(dirs, filepath.Join(k.Root, filepath.FromSlash(w)))
	}
	if k.plan.Empty() {
		dirs = nil
	}
	if err := k.Watch.Set(dirs); err != nil {
		d.Log.Warn("cgroups: some directories cannot be watched; their new cgroups wait for the next repair pass", "err", err)
	}
	if k.plan.Empty() {
		return
	}
	snap, err := cgroups.Scan(k.Tree, k.plan)
	if err != nil {
		d.Log.Error("cgroups: scan", "err", err)
		return
	}
	want := k.plan.Elements(snap, compile.ChainName)
	ops := cgroups.Ops(want, k.have)
	if len(ops) == 0 {
		return
	}
	res, err := d.Engine.UpdateLive(ctx, ops)
	if err != nil {
		d.Log.Error("cgroups: update", "err", err)
		k.have = nil // unknown: the next pass sends everything again
		return
	}
	k.have = map[string][]ruleset.Element{}
	for _, s := range res.Sets {
		if s.Kind == ruleset.KindCgroup {
			k.have[s.Name] = s.Elements()
		}
	}
	if more := cgroups.Ops(want, k.have); len(more) > 0 {
		// The kernel held ids the scan did not find (carried across an
		// apply): delete them.
		if _, err := d.Engine.UpdateLive(ctx, more); err == nil {
			for name, elems := range want {
				k.have[name] = elems
			}
		}
	}
	d.Log.Debug("cgroups: updated", "ops", len(ops))
}
