package engine

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/leash-dev/leash/internal/ruleset"
)

// mapCompiled is policyFor("allow") with a live cgroup verdict map
// "cgmap2" and the chains its elements may jump to.
func mapCompiled(t *testing.T) (*Compiled, []string) {
	t.Helper()
	c := policyFor(t, "allow")
	var chains []string
	for _, ch := range c.Ruleset.Chains {
		if ch.Hook == nil {
			chains = append(chains, ch.Name)
		}
	}
	if len(chains) < 2 {
		t.Fatalf("policyFor has regular chains %v, want two", chains)
	}
	c.Ruleset.Sets = append(c.Ruleset.Sets, &ruleset.Set{Name: "cgmap2", Kind: ruleset.KindCgroup,
		Live: &ruleset.Live{Source: "cgroups:governed:2", Verdicts: true}})
	if err := ruleset.Validate(c.Ruleset); err != nil {
		t.Fatal(err)
	}
	return c, chains
}

var addrEq = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

func jump(id uint64, chain string) ruleset.Element {
	return ruleset.Element{Cgroup: id, ElementState: ruleset.ElementState{Chain: chain}}
}

// TestUpdateLiveMap: the elements of a live verdict map change through
// UpdateLive like a set's; a changed verdict is a delete and an add in one
// update (the kernel, and the fake, refuse to change an element's data);
// a jump to a missing chain refuses the whole update; the live snapshot
// records the verdicts and a full apply carries them.
func TestUpdateLiveMap(t *testing.T) {
	h := liveHarness(t)
	e := h.engine()
	c, chains := mapCompiled(t)
	a, b := chains[0], chains[1]
	if _, err := e.Apply(ctx, c, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.UpdateLive(ctx, []ruleset.ElementOp{{Set: "cgmap2", Elem: jump(7, a)}, {Set: "cgmap2", Elem: jump(8, a)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.UpdateLive(ctx, []ruleset.ElementOp{{Set: "cgmap2", Elem: jump(7, b)}}); err == nil {
		t.Error("UpdateLive changing 7's verdict in place: no error")
	}
	if _, err := e.UpdateLive(ctx, []ruleset.ElementOp{{Set: "cgmap2", Elem: jump(9, a)}, {Set: "cgmap2", Elem: jump(10, "p_gone")}}); err == nil {
		t.Error("UpdateLive with a jump to a missing chain: no error")
	}
	res, err := e.UpdateLive(ctx, []ruleset.ElementOp{{Set: "cgmap2", Delete: true, Elem: ruleset.Element{Cgroup: 7}}, {Set: "cgmap2", Elem: jump(7, b)}})
	if err != nil {
		t.Fatal(err)
	}
	want := []ruleset.Element{jump(7, b), jump(8, a)}
	if diff := cmp.Diff(want, res.Sets[len(res.Sets)-1].Elements(), addrEq); diff != "" {
		t.Errorf("after UpdateLive (-want +got):\n%s", diff)
	}
	snap, err := h.store.Live()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, snap.Set("cgmap2").Elements(), addrEq); diff != "" {
		t.Errorf("live snapshot (-want +got):\n%s", diff)
	}
	// A full apply carries the verdicts.
	c2, _ := mapCompiled(t)
	if _, err := e.Apply(ctx, c2, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, h.k.Table().Set("cgmap2").Elements(), addrEq); diff != "" {
		t.Errorf("after a full apply (-want +got):\n%s", diff)
	}
}

// TestCarryDropsDeadJumps: an element of a live verdict map whose chain
// the new table no longer has is not carried (the kernel would refuse the
// whole table); the compiled elements win over the carried ones.
func TestCarryDropsDeadJumps(t *testing.T) {
	live := &ruleset.Live{Source: "cgroups:governed:2", Verdicts: true}
	next := &ruleset.Set{Name: "m", Kind: ruleset.KindCgroup, Live: live}
	next.SetElements([]ruleset.Element{jump(1, "p_new")})
	old := &ruleset.Set{Name: "m", Kind: ruleset.KindCgroup, Live: live}
	old.SetElements([]ruleset.Element{jump(1, "p_old"), jump(2, "p_gone"), jump(3, "p_new")})
	rs := &ruleset.Ruleset{Sets: []*ruleset.Set{next}, Chains: []*ruleset.Chain{{Name: "p_new"}, {Name: "p_old"}}}
	got := carry(next, old, 0, ruleset.NewIndex(rs)).Elements()
	want := []ruleset.Element{jump(1, "p_new"), jump(3, "p_new")}
	if diff := cmp.Diff(want, got, addrEq); diff != "" {
		t.Errorf("carry (-want +got):\n%s", diff)
	}
}
