package nft

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/leash-dev/leash/internal/ruleset"
)

// cgroupMapSample is the flat cgroup dispatch: one live verdict map per
// level, keyed by `socket cgroupv2 level N` (8 bytes, host byte order),
// looked up by one rule whatever the number of program policies, with
// elements `ID : jump CHAIN`.
func cgroupMapSample(elems ...ruleset.Element) *ruleset.Ruleset {
	m := &ruleset.Set{Name: "cgmap2", Kind: ruleset.KindCgroup, Live: &ruleset.Live{Source: "cgroups:governed:2", Verdicts: true}}
	m.SetElements(elems)
	drop := func(name string) *ruleset.Chain {
		return &ruleset.Chain{Name: name, Rules: []*ruleset.Rule{{Verdict: ruleset.Verdict{Kind: ruleset.Drop}, Origin: ruleset.Origin{ID: name + "/default"}}}}
	}
	return &ruleset.Ruleset{
		Sets: []*ruleset.Set{m},
		Chains: []*ruleset.Chain{
			{Name: "output", Hook: &ruleset.Hook{Hook: "output"}, Rules: []*ruleset.Rule{
				{Verdict: ruleset.Verdict{Kind: ruleset.VMap, Map: "cgmap2", Level: 2}, Origin: ruleset.Origin{ID: "dispatch/cgroups"}},
			}},
			drop("p_web"), drop("p_db"),
		},
	}
}

func jumpElem(id uint64, chain string) ruleset.Element {
	return ruleset.Element{Cgroup: id, ElementState: ruleset.ElementState{Chain: chain}}
}

// TestCgroupMapTextEquivalence: the kernel and google/nftables take a
// verdict map keyed by `socket cgroupv2 level N`; nft -f of its text and
// Apply give the same kernel objects; elements `ID : jump CHAIN` load with
// the table, change by UpdateElements (atomically; a changed verdict is a
// delete and an add in one update, since the kernel refuses to change an
// element's data) and read back (Read, ReadLive) as they went in.
func TestCgroupMapTextEquivalence(t *testing.T) {
	nsA, _ := newNS(t)
	nsB, c := newNS(t)
	rs := cgroupMapSample(jumpElem(1<<40+7, "p_web"), jumpElem(42, "p_db"))
	if err := ruleset.Validate(rs); err != nil {
		t.Fatal(err)
	}
	inNS(t, nsA, ruleset.Text(rs, ruleset.TextOptions{}), "nft", "-f", "-") // elements in a comment
	if err := c.Apply(cgroupMapSample()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(list(t, nsA), list(t, nsB)); diff != "" {
		t.Errorf("nft list (-nft -f +Apply):\n%s", diff)
	}
	wantNL := inNS(t, nsA, "", "nft", "--debug=netlink", "list", "table", "inet", "leash")
	gotNL := inNS(t, nsB, "", "nft", "--debug=netlink", "list", "table", "inet", "leash")
	if diff := cmp.Diff(wantNL, gotNL); diff != "" {
		t.Errorf("nft --debug=netlink list (-nft -f +Apply):\n%s", diff)
	}
	if err := c.Apply(rs); err != nil { // with the elements, by netlink only
		t.Fatal(err)
	}
	if got := strings.Join(strings.Fields(list(t, nsB)), " "); !strings.Contains(got, "elements = { 42 : jump p_db, 1099511627783 : jump p_web }") {
		t.Errorf("nft list after Apply: no elements `42 : jump p_db, 1099511627783 : jump p_web`:\n%s", got)
	}
	requireReadsBack(t, c, rs, "Read after Apply")

	// A changed verdict: the kernel refuses to re-add a key with other data...
	move := ruleset.ElementOp{Set: "cgmap2", Elem: jumpElem(42, "p_web")}
	if err := c.UpdateElements([]ruleset.ElementOp{move}); err == nil {
		t.Error("UpdateElements re-adding 42 with another verdict: no error")
	}
	// ...and takes a delete and an add in one update.
	ops := []ruleset.ElementOp{{Set: "cgmap2", Delete: true, Elem: ruleset.Element{Cgroup: 42}}, move,
		{Set: "cgmap2", Delete: true, Elem: ruleset.Element{Cgroup: 1<<40 + 7}}, {Set: "cgmap2", Elem: jumpElem(9, "p_db")}}
	if err := c.UpdateElements(ops); err != nil {
		t.Fatal(err)
	}
	bad := []ruleset.ElementOp{{Set: "cgmap2", Elem: jumpElem(10, "p_db")}, {Set: "cgmap2", Elem: jumpElem(11, "p_gone")}}
	if err := c.UpdateElements(bad); err == nil {
		t.Error("UpdateElements with a jump to a missing chain: no error")
	}
	live, err := c.ReadLive()
	if err != nil {
		t.Fatal(err)
	}
	want := cgroupMapSample(jumpElem(9, "p_db"), jumpElem(42, "p_web")).Sets
	if diff := cmp.Diff(want, live.Sets); diff != "" {
		t.Errorf("ReadLive after the updates (-want +got):\n%s", diff)
	}
}
