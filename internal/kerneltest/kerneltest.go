// Package kerneltest holds the preconditions shared by every test that touches
// the kernel (namespaces, nftables, real sockets as other uids).
//
// Such tests never silently skip in CI: when the CI environment variable is
// set, a missing capability is a test failure, not a skip.
package kerneltest

import (
	"fmt"
	"os"
	"testing"
)

// Require stops the test unless it runs as root. Outside CI it skips with the
// reason; under CI (CI set to anything non-empty) it fails.
func Require(t testing.TB) {
	t.Helper()
	if testing.Short() {
		Unavailable(t, "kernel test skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		Unavailable(t, "kernel test needs root (network namespaces, nftables); run the README's test command as root")
	}
}

// Unavailable reports that a kernel precondition is missing: a failure under
// CI, a skip elsewhere.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatalf("CI requires this test to run: %s", msg)
	}
	t.Skip(msg)
}
