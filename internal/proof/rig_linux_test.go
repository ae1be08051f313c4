package proof_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/leash-dev/leash/internal/cgroups"
	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/kerneltest"
	"github.com/leash-dev/leash/internal/nft"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/sandbox"
)

// newSandbox starts a default sandbox and opens the kernel of its client
// namespace, where the tests load their tables; both close at the end of t.
func newSandbox(t *testing.T, ctx context.Context) (*sandbox.Sandbox, *nft.NSConn) {
	t.Helper()
	sb, err := sandbox.New(ctx, sandbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	k, err := nft.OpenNetNS(sb.Client().Name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return sb, k
}

// testCgroup makes PREFIX-PID/app below the cgroup2 mount for a governed
// program, removed at the end of t; own is this process's cgroup, to move
// back to.
func testCgroup(t *testing.T, prefix string) (fs *cgroups.FS, app, own string) {
	t.Helper()
	fs, err := cgroups.Mount("/proc/self/mountinfo")
	if err != nil {
		kerneltest.Unavailable(t, "no cgroup2 mount: %v", err)
	}
	if own, err = cgroups.Of("self"); err != nil {
		t.Fatal(err)
	}
	top := fmt.Sprintf("%s-%d", prefix, os.Getpid())
	app = top + "/app"
	if err := os.MkdirAll(fs.Dir(app), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.Remove(fs.Dir(app))
		os.Remove(fs.Dir(top))
	})
	return fs, app, own
}

// compileFile loads and compiles the policy text src (named name) with env,
// failing t on any error.
func compileFile(t *testing.T, ctx context.Context, name, src string, env policy.Env) *ruleset.Ruleset {
	t.Helper()
	r, err := policy.Load(ctx, name, []byte(src), env)
	if err != nil {
		t.Fatal(err)
	}
	return compile.Compile(r)
}
