package cli_test

import (
	"context"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/leash-dev/leash/internal/cli"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/policy/policytest"
)

// TestMain makes the test binary double as a `leash` command whose users,
// groups, services and DNS come from the policytest fixture, so the scripts
// in testdata/script run the real command tree on any machine.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"leash": fixtureLeash})
}

func fixtureLeash() {
	root := cli.New(cli.Deps{
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		Env: func(context.Context, cli.EnvOptions) (policy.Env, error) {
			return policytest.Env(policytest.DefaultIDs), nil
		},
		OpenKernel: func(string) (cli.Kernel, error) { return nil, os.ErrPermission },
		LocalAddrs: func(string) ([]netip.Addr, error) {
			return []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("192.0.2.10")}, nil
		},
		ReadFile: os.ReadFile,
		Now:      func() time.Time { return time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC) },
	})
	err := root.Execute()
	cli.Report(os.Stderr, err)
	os.Exit(cli.ExitCode(err))
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			// Examples are copied in so scripts can refer to them.
			return copyExamples(env.WorkDir)
		},
	})
}

func copyExamples(dir string) error {
	if err := os.MkdirAll(dir+"/examples", 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir("../../examples")
	if err != nil {
		return err
	}
	for _, e := range entries {
		b, err := os.ReadFile("../../examples/" + e.Name())
		if err != nil {
			return err
		}
		if err := os.WriteFile(dir+"/examples/"+e.Name(), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
