package compile_test

import (
	"context"
	"net/netip"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/leash-dev/leash/internal/cgroups"
	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/eval"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/policy/policytest"
	"github.com/leash-dev/leash/internal/ruleset"
)

// fakeTree is a systemd-like cgroup tree.
var fakeTree = cgroups.Fake{"": 1, "system.slice": 10, "system.slice/nginx.service": 11,
	"system.slice/sshd.service": 12, "leash": 20, "leash/ci": 21, "user.slice": 30}

func compileCgroups(t *testing.T) *ruleset.Ruleset {
	t.Helper()
	src, err := os.ReadFile("testdata/cgroups.yaml")
	if err != nil {
		t.Fatal(err)
	}
	env := policytest.Env(policytest.DefaultIDs)
	env.Cgroups = fakeTree
	res, err := policy.Load(context.Background(), "cgroups.yaml", src, env)
	if err != nil {
		t.Fatal(err)
	}
	rs := compile.Compile(res)
	if err := ruleset.Validate(rs); err != nil {
		t.Fatalf("compiled ruleset is inconsistent: %v", err)
	}
	return rs
}

// TestGoldenCgroups: the cgroup dispatch of units and cgroups, with the
// ids of a fake tree (go test ./internal/compile -update rewrites it).
func TestGoldenCgroups(t *testing.T) {
	got := ruleset.Text(compileCgroups(t), ruleset.TextOptions{Sources: true})
	const golden = "testdata/cgroups.nft"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestCgroupPrecedence: a governed cgroup's sockets are judged by its
// policy whatever their user; an unclassified cgroup below a watched
// directory is held; other cgroups go on to their users' policies.
func TestCgroupPrecedence(t *testing.T) {
	rs := compileCgroups(t)
	for _, tc := range []struct {
		name   string
		cgroup []uint64
		uid    uint32
		port   uint16
		want   string // the deciding rule's origin id
	}{
		{name: "nginx allowed", cgroup: []uint64{1, 10, 11}, uid: 0, port: 443, want: "web/r1"},
		{name: "nginx child denied", cgroup: []uint64{1, 10, 11, 99}, uid: policytest.DefaultIDs.Apache, port: 22, want: "web/default"},
		{name: "sshd judged by its user", cgroup: []uint64{1, 10, 12}, uid: 0, port: 22, want: "others/default"},
		{name: "apache outside its cgroup", cgroup: []uint64{1, 30}, uid: policytest.DefaultIDs.Apache, port: 443, want: "ci/default"},
		{name: "restarted nginx held", cgroup: []uint64{1, 10, 111}, uid: 0, port: 443, want: compile.IDCgroupUnclassified},
		{name: "new top-level cgroup held", cgroup: []uint64{1, 40}, uid: 0, port: 443, want: compile.IDCgroupUnclassified},
		{name: "root cgroup", cgroup: []uint64{1}, uid: 0, port: 443, want: "others/default"},
		{name: "ci", cgroup: []uint64{1, 20, 21, 5}, uid: 0, port: 443, want: "ci/default"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := eval.Evaluate(rs, eval.Packet{Owned: true, UID: tc.uid, GID: tc.uid, Cgroup: tc.cgroup,
				Daddr: netip.MustParseAddr("192.0.2.7"), Proto: ruleset.ProtoTCP, Dport: tc.port})
			if err != nil {
				t.Fatal(err)
			}
			if res.Rule == nil || res.Rule.Origin.ID != tc.want {
				t.Errorf("decided by %+v, want %s", res.Rule, tc.want)
			}
		})
	}
}
