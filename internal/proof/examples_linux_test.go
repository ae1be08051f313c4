package proof_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/leash-dev/leash/internal/kerneltest"
	"github.com/leash-dev/leash/internal/netns"
	"github.com/leash-dev/leash/internal/nft"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/policy/policytest"
	"github.com/leash-dev/leash/internal/proof"
	"github.com/leash-dev/leash/internal/sandbox"
	"github.com/leash-dev/leash/internal/sandbox/sandboxtest"
)

func TestMain(m *testing.M) { sandboxtest.Main(m) }

// realUsers creates host users standing in for the examples' names (ids
// 64200-64299 are this package's): apache, oracle, admin, carol; alice with
// primary group supporters; bob with supporters as a supplementary group.
func realUsers(t *testing.T) policytest.IDs {
	supporters := sandboxtest.Group{Name: "supporters", GID: 64210}
	users := sandboxtest.Group{Name: "users", GID: 64211}
	created := sandboxtest.Users(t,
		sandboxtest.UserSpec{Name: "apache", UID: 64201, Primary: users},
		sandboxtest.UserSpec{Name: "oracle", UID: 64202, Primary: users},
		sandboxtest.UserSpec{Name: "admin", UID: 64203, Primary: users},
		sandboxtest.UserSpec{Name: "alice", UID: 64204, Primary: supporters},
		sandboxtest.UserSpec{Name: "bob", UID: 64205, Primary: users, Supplementary: []sandboxtest.Group{supporters}},
		sandboxtest.UserSpec{Name: "carol", UID: 64206, Primary: users},
	)
	uid := func(i int) uint32 { return created[i].UID }
	return policytest.IDs{Apache: uid(0), Oracle: uid(1), Admin: uid(2), Alice: uid(3), Bob: uid(4), Carol: uid(5),
		Supporters: created[3].GID, Users: created[0].GID}
}

// TestExamplesInKernel proves every example policy with real traffic from
// real uids: each file's own test cases (with expectations) plus probes
// derived from every rule and default (TCP, UDP and ICMP, IPv4 and IPv6),
// each checked against the kernel and against leash check.
func TestExamplesInKernel(t *testing.T) {
	kerneltest.Require(t)
	env := policytest.Env(realUsers(t))
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			results := proveFile(t, path, env)
			seen := map[string]bool{}
			for _, r := range results {
				if !r.Pass {
					t.Errorf("%s as %s -> %s: %s (kernel %s, check %s by %s)", r.Source, r.As.Desc,
						r.Target.Describe(r.Addr), r.Why, r.Outcome, r.Check, r.CheckBy)
				}
				fam := "v6"
				if r.Addr.Is4() {
					fam = "v4"
				}
				seen[r.Target.Proto+"/"+fam] = true
				seen[r.Check] = true
			}
			for _, want := range []string{"tcp/v4", "tcp/v6", "udp/v4", "udp/v6", "icmp/v4", "icmp/v6", "allow"} {
				if !seen[want] {
					t.Errorf("no probe covered %s", want)
				}
			}
			if !seen["deny"] && !seen["reject"] {
				t.Errorf("no probe was denied")
			}
			t.Logf("%d probes passed", len(results))
		})
	}
}

func proveFile(t *testing.T, path string, env policy.Env) []proof.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := policy.Parse(path, src)
	if err != nil {
		t.Fatal(err)
	}
	res, err := policy.Resolve(ctx, f, env)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := sandbox.New(ctx, sandbox.Config{ProbeCommand: sandboxtest.ProbeBinary(t), LAN: policy.HasForwardedCases(f)})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	k, err := nft.OpenNetNS(sb.Client().Name)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	cases := append(proof.FromTests(policy.ResolveTests(ctx, f, env)), proof.Derive(res, env.Directory)...)
	local, err := netns.LocalAddrs(sb.Client().Name)
	if err != nil {
		t.Fatal(err)
	}
	results, _, err := proof.RunTimed(ctx, sb, k.Apply, res, cases, proof.Options{Timeout: 300 * time.Millisecond, Local: local})
	if err != nil {
		t.Fatal(err)
	}
	return results
}
