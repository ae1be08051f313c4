package cli

import (
	"context"
	"testing"

	"github.com/leash-dev/leash/internal/cgroups"
	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/identity"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/policy/policytest"
	"github.com/leash-dev/leash/internal/procinfo"
	"github.com/leash-dev/leash/internal/sockdiag"
)

// TestConnsJudgesPrograms: a connection of a process in a governed
// cgroup is judged by the cgroup's policy, not its user's.
func TestConnsJudgesPrograms(t *testing.T) {
	const src = "version: 1\npolicies:\n  - name: web\n    units: [apache2.service]\n    rules:\n      - allow: {ports: [25/tcp]}\n    default: deny\n  - name: mail\n    users: [apache]\n    default: deny\n"
	tree := cgroups.Fake{"": 1, "system.slice": 10, "system.slice/apache2.service": 11, "user.slice": 30}
	env := policytest.Env(policytest.DefaultIDs)
	env.Cgroups = tree
	res, err := policy.Load(context.Background(), "p.yaml", []byte(src), env)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string][]uint64{"/system.slice/apache2.service": {1, 10, 11}, "/user.slice": {1, 30}}
	j := judge{rs: compile.Compile(res), cgroupIDs: func(p string) []uint64 { return ids[p] }}
	for cg, want := range map[string]string{"/system.slice/apache2.service": "web/r1", "/user.slice": "mail/default"} {
		p := procinfo.Process{PID: 300, FSUID: 2001, FSGID: 3000, Cgroup: cg}
		c, err := j.judge(sock(sockdiag.TCP, sockdiag.Established, "10.0.0.5:40000", "192.0.2.25:25", 2001, p), &identity.Directory{})
		if err != nil {
			t.Fatal(err)
		}
		if c.verdict == nil || c.verdict.Rule == nil || c.verdict.Rule.Origin.ID != want {
			t.Errorf("cgroup %s: judged by %+v, want %s", cg, c.verdict, want)
		}
	}
}
