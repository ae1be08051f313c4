package daemon

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/engine"
	"github.com/leash-dev/leash/internal/nft"
	"github.com/leash-dev/leash/internal/policy/policytest"
	"github.com/leash-dev/leash/internal/ruleset"
)

// TestDaemonOwnsTheTable: the daemon's one owning connection makes the
// table unchangeable by anyone else; when it closes (the daemon died) the
// table stays and a direct command works again; a new daemon takes over
// the orphan in place, and a table a direct command made by replace.
func TestDaemonOwnsTheTable(t *testing.T) {
	r := newRig(t)
	first := r.k.Owner()
	Own(r.e, first)
	r.run()
	if owns, _ := first.Owns(); !owns || r.current() != 1 {
		t.Fatalf("after start: owns %v, current %d; want generation 1, owned", owns, r.current())
	}
	if err := r.k.ForeignDelete(); !errors.Is(err, nft.ErrNotOwner) {
		t.Errorf("nft delete table while the daemon runs: %v; want ErrNotOwner", err)
	}
	direct := &engine.Engine{Store: r.e.Store, OpenKernel: func() (engine.Kernel, error) { return r.k, nil }, Clock: r.clk, LockTimeout: time.Second}
	if _, err := direct.Reset(context.Background()); !errors.Is(err, nft.ErrNotOwner) {
		t.Errorf("a direct reset while the daemon runs: %v; want ErrNotOwner", err)
	}
	if r.k.Table() == nil {
		t.Fatal("the table is gone")
	}

	// leash.service's restore (run again when nftables restarts) finds
	// the daemon holding the generation: nothing to do, no emergency.
	if res, err := direct.Restore(context.Background()); err != nil || res.Restored == nil || res.Restored.ID != 1 {
		t.Errorf("restore while the daemon owns the table: %+v, %v", res, err)
	}
	if owns, _ := first.Owns(); !owns {
		t.Error("restore took the table from the daemon")
	}

	// The daemon dies: the table stays in force, owned by nobody.
	first.Close()
	if r.k.Table() == nil || r.k.Owned() {
		t.Fatalf("after the owner closed: table %v, owned %v; want the table, unowned", r.k.Table() != nil, r.k.Owned())
	}
	_, commits, _ := r.k.Stats()

	// A new daemon claims the orphan in place: no new table.
	second := r.k.Owner()
	Own(r.e, second)
	if res, err := r.e.Repair(context.Background()); err != nil || !res.TookOver || res.Repaired {
		t.Fatalf("Repair = %+v, %v; want a takeover without a repair", res, err)
	}
	if _, c, _ := r.k.Stats(); c != commits+1 {
		t.Errorf("commits %d -> %d: a claim is one transaction", commits, c)
	}
	if owns, _ := second.Owns(); !owns {
		t.Fatal("the second daemon does not own the table")
	}

	// While no daemon runs, a direct apply makes a plain table; the next
	// daemon replaces it with one it owns.
	second.Close()
	c, err := engine.Compile(context.Background(), policytest.Env(policytest.DefaultIDs), r.file, []byte(allowAll))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := direct.Apply(context.Background(), c, engine.ApplyOptions{}); err != nil {
		t.Fatalf("direct apply with no daemon: %v", err)
	}
	third := r.k.Owner()
	Own(r.e, third)
	if res, err := r.e.Repair(context.Background()); err != nil || !res.TookOver {
		t.Fatalf("Repair = %+v, %v; want a takeover", res, err)
	}
	if owns, _ := third.Owns(); !owns {
		t.Fatal("the third daemon does not own the table")
	}

	// A second live daemon can not take it.
	rival := &engine.Engine{Store: r.e.Store, Clock: r.clk, LockTimeout: time.Second}
	Own(rival, r.k.Owner())
	if _, err := rival.Repair(context.Background()); !errors.Is(err, nft.ErrNotOwner) {
		t.Errorf("a rival daemon's Repair: %v; want ErrNotOwner", err)
	}
}

// TestOwnedPeriodicPass: while the daemon owns the table, a periodic pass
// only checks that it still does; every FullPassEvery-th pass is a full
// one (here: a change the kernel would never allow, made behind the
// owner's back, is found only then), and a lost ownership makes the next
// pass a full one at once (whose takeover replaces the table).
func TestOwnedPeriodicPass(t *testing.T) {
	r := newRig(t)
	owner := r.k.Owner()
	Own(r.e, owner)
	r.configure = func(c *Config) { c.Owner = owner }
	r.run()
	_, commits, _ := r.k.Stats()
	tamper := func() {
		r.k.Tamper(func(rs *ruleset.Ruleset) {
			ch := rs.Chain(compile.ChainOutput)
			ch.Rules = ch.Rules[1:]
		})
	}
	pass := func() {
		for i := 0; i < 100 && r.clk.Waiters() < 2; i++ { // repair, watchdog
			time.Sleep(time.Millisecond)
		}
		r.clk.Advance(5 * time.Second)
		time.Sleep(5 * time.Millisecond)
	}
	tamper()
	for i := 1; i < FullPassEvery; i++ {
		pass()
		if _, c, _ := r.k.Stats(); c != commits {
			t.Fatalf("pass %d was a full one (commits %d -> %d)", i, commits, c)
		}
	}
	pass()
	r.eventually("the full pass repairs", func() bool { _, c, _ := r.k.Stats(); return c == commits+1 })

	// The table no longer owned (the socket closed): the next pass is a
	// full one at once.
	_, commits, _ = r.k.Stats()
	owner.Close()
	pass()
	r.eventually("a full pass", func() bool { _, c, _ := r.k.Stats(); return c > commits })
}
