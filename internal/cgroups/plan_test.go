package cgroups

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/leash-dev/leash/internal/ruleset"
)

func TestPlanElements(t *testing.T) {
	plan := NewPlan([]Governed{
		{Path: "system.slice/nginx.service", Policy: "web"},
		{Path: "leash/ci", Policy: "ci"},
		{Path: "leash/ci/deep/x", Policy: "web"},
	})
	tree := Fake{"": 1, "system.slice": 10, "system.slice/nginx.service": 11, "system.slice/sshd.service": 12,
		"system.slice/sshd.service/sub": 13, "leash": 20, "leash/ci": 21, "leash/ci/deep": 22, "leash/ci/deep/x": 23,
		"leash/ci/deep/y": 24, "leash/ci/other": 25, "user.slice": 30, "user.slice/user-1000.slice": 31}
	snap, err := Scan(tree, plan)
	if err != nil {
		t.Fatal(err)
	}
	got := plan.Elements(snap, chain)
	want := map[string][]ruleset.Element{
		"cg1":       ids(10, 20, 30),
		"cg1_watch": ids(10, 20),
		"cg2":       ids(11, 12, 21),
		"cg2_watch": ids(21),
		"cgmap2":    {jump(11, "p_web"), jump(21, "p_ci")},
		"cg3":       ids(22, 25),
		"cg3_watch": ids(22),
		"cg4":       ids(23, 24),
		"cgmap4":    {jump(23, "p_web")},
	}
	if diff := cmp.Diff(want, got, addrEq); diff != "" {
		t.Errorf("elements (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		path, policy, at string
	}{
		{"system.slice/nginx.service/worker", "web", "system.slice/nginx.service"},
		{"system.slice/sshd.service", "", ""},
		{"leash/ci/deep/x/1", "web", "leash/ci/deep/x"},
		{"leash/ci/deep/y", "ci", "leash/ci"},
		{"leash", "", ""},
	} {
		if pol, at := plan.Governs(tc.path); pol != tc.policy || at != tc.at {
			t.Errorf("Governs(%q) = %q, %q; want %q, %q", tc.path, pol, at, tc.policy, tc.at)
		}
	}
	hids, add := plan.Hypothetical("system.slice/nginx.service/new", snap, chain)
	if diff := cmp.Diff([]uint64{1, 10, 11, madeUpBase + 2}, hids); diff != "" {
		t.Errorf("Hypothetical ids (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string][]ruleset.Element{"cg1": ids(10), "cg1_watch": ids(10), "cg2": ids(11), "cgmap2": {jump(11, "p_web")}}, add, addrEq); diff != "" {
		t.Errorf("Hypothetical add (-want +got):\n%s", diff)
	}
}

func chain(policy string) string { return "p_" + policy }

func ids(ids ...uint64) []ruleset.Element {
	var out []ruleset.Element
	for _, id := range ids {
		out = append(out, ruleset.Element{Cgroup: id})
	}
	return out
}

func jump(id uint64, chain string) ruleset.Element {
	return ruleset.Element{Cgroup: id, ElementState: ruleset.ElementState{Chain: chain}}
}

var addrEq = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

// TestOps: adds, then deletes; a map element whose chain changes, or any
// map element with have unknown, is deleted and re-added.
func TestOps(t *testing.T) {
	want := map[string][]ruleset.Element{"cg2": ids(11, 12), "cgmap2": {jump(11, "p_web"), jump(12, "p_ci")}}
	have := map[string][]ruleset.Element{"cg2": ids(10, 11), "cgmap2": {jump(10, "p_web"), jump(11, "p_web"), jump(12, "p_web")}}
	add := func(set string, e ruleset.Element) ruleset.ElementOp { return ruleset.ElementOp{Set: set, Elem: e} }
	del := func(set string, id uint64) ruleset.ElementOp {
		return ruleset.ElementOp{Set: set, Delete: true, Elem: ruleset.Element{Cgroup: id}}
	}
	got := Ops(want, have)
	wantOps := []ruleset.ElementOp{add("cg2", ids(12)[0]), del("cgmap2", 12), add("cgmap2", jump(12, "p_ci")), del("cg2", 10), del("cgmap2", 10)}
	if diff := cmp.Diff(wantOps, got, addrEq); diff != "" {
		t.Errorf("Ops (-want +got):\n%s", diff)
	}
	got = Ops(want, nil)
	wantOps = []ruleset.ElementOp{add("cg2", ids(11)[0]), add("cg2", ids(12)[0]),
		del("cgmap2", 11), add("cgmap2", jump(11, "p_web")), del("cgmap2", 12), add("cgmap2", jump(12, "p_ci"))}
	if diff := cmp.Diff(wantOps, got, addrEq); diff != "" {
		t.Errorf("Ops with have unknown (-want +got):\n%s", diff)
	}
}

func TestUnitPaths(t *testing.T) {
	for _, tc := range []struct {
		unit string
		want []string
		err  bool
	}{
		{unit: "nginx.service", want: []string{"system.slice/nginx.service", "system.slice/nginx.socket"}},
		{unit: "getty@tty1.service", want: []string{"system.slice/system-getty.slice/getty@tty1.service"}},
		{unit: "cups.socket", want: []string{"system.slice/cups.socket"}},
		{unit: "user-1000.slice", want: []string{"user.slice/user-1000.slice"}},
		{unit: "machine.slice", want: []string{"machine.slice"}},
		{unit: "-.slice", err: true},
		{unit: "nginx", err: true},
		{unit: "a/b.service", err: true},
		{unit: "@x.service", err: true},
	} {
		got, err := UnitPaths(tc.unit)
		if (err != nil) != tc.err {
			t.Errorf("UnitPaths(%q) error %v, want error %v", tc.unit, err, tc.err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("UnitPaths(%q) (-want +got):\n%s", tc.unit, diff)
		}
	}
}

func TestCleanPath(t *testing.T) {
	for in, want := range map[string]string{"/a/b/": "a/b", "a//b": "a/b", "a/./b": "a/b", "a/../b": "", "/": "", "": ""} {
		got, ok := CleanPath(in)
		if got != want || ok != (want != "") {
			t.Errorf("CleanPath(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func TestRunPath(t *testing.T) {
	plan := NewPlan([]Governed{{Path: "leash/ci", Policy: "ci"}, {Path: "leash/ci2", Policy: "ci"}, {Path: "x.slice", Policy: "web"}})
	if pol, at, err := plan.RunPath("ci"); err != nil || pol != "ci" || at != "leash/ci" {
		t.Errorf("RunPath(ci) = %q, %q, %v", pol, at, err)
	}
	if _, _, err := plan.RunPath(""); err == nil {
		t.Error("RunPath(\"\") with two policies: no error")
	}
	if _, _, err := plan.RunPath("nope"); err == nil {
		t.Error("RunPath(nope): no error")
	}
	if pol, _, err := NewPlan([]Governed{{Path: "a", Policy: "p"}}).RunPath(""); err != nil || pol != "p" {
		t.Errorf("RunPath(\"\") with one policy = %q, %v", pol, err)
	}
}
