package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/policy/policytest"
	"github.com/leash-dev/leash/internal/safefile"
)

// TestNotARegularFile: validate of a FIFO or /dev/zero returns at once with
// exit status 2 and FILE: what is wrong.
func TestNotARegularFile(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "policy.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{fifo, "/dev/zero"} {
		var stdout, stderr bytes.Buffer
		root := New(Deps{
			Stdout: &stdout, Stderr: &stderr, ReadFile: safefile.Read,
			Env: func(context.Context, EnvOptions) (policy.Env, error) {
				return policytest.Env(policytest.DefaultIDs), nil
			},
		})
		root.SetArgs([]string{"--state-dir", t.TempDir(), "validate", path})
		err := root.ExecuteContext(context.Background())
		Report(&stderr, err)
		if code := ExitCode(err); code != 2 {
			t.Errorf("validate %s: exit %d, want 2 (%v)", path, code, err)
		}
		if !strings.HasPrefix(stderr.String(), "leash: read policy: "+path+": is a ") {
			t.Errorf("validate %s: stderr %q", path, stderr.String())
		}
	}
}
