// Package sandboxtest holds test helpers for kernel tests built on the
// sandbox: the probe program hook for test binaries and real host users.
//
// A test package that probes through a sandbox needs two lines:
//
//	func TestMain(m *testing.M) { sandboxtest.Main(m) }
//
// and then Config{ProbeCommand: sandboxtest.ProbeBinary(t)}.
package sandboxtest

import (
	"os"
	"testing"

	"github.com/leash-dev/leash/internal/sandbox"
)

// IsProbeChild reports whether this process was started by a sandbox as its
// probe program (sandbox.ProbeEnv is set).
func IsProbeChild() bool { return os.Getenv(sandbox.ProbeEnv) != "" }

// Main is a TestMain: in a probe child it runs sandbox.ProbeMain with the
// process's arguments and exits; otherwise it runs the tests.
func Main(m *testing.M) {
	if IsProbeChild() {
		os.Exit(sandbox.ProbeMain(os.Args[1:], os.Stdout))
	}
	os.Exit(m.Run())
}

// ProbeBinary returns a Config.ProbeCommand that re-runs the current test
// binary as the probe program. The test package's TestMain must be Main (or
// call IsProbeChild and sandbox.ProbeMain itself).
func ProbeBinary(t testing.TB) []string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("sandboxtest: locate the test binary: %v", err)
	}
	return []string{exe}
}
