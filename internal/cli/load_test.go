package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/policy/policytest"
	"github.com/leash-dev/leash/internal/services"
)

// TestValidateWarnsOfServices: a malformed /etc/services line does not
// stop validate; it is shown as a warning on stderr. --dns-timeout reaches
// the environment.
func TestValidateWarnsOfServices(t *testing.T) {
	file := filepath.Join(t.TempDir(), "p.yaml")
	src := "version: 1\npolicies:\n  - name: web\n    users: [apache]\n    rules:\n      - allow: {to: [192.0.2.0/24], ports: [22]}\n    default: deny\n"
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	var got EnvOptions
	d := Deps{
		Stdout: &stdout, Stderr: &stderr, ReadFile: os.ReadFile,
		Env: func(_ context.Context, opt EnvOptions) (policy.Env, error) {
			got = opt
			env := policytest.Env(policytest.DefaultIDs)
			env.Services = services.Parse("/etc/services", strings.NewReader("ssh 22/tcp\nbroken\n"))
			return env, nil
		},
	}
	root := New(d)
	root.SetArgs([]string{"--dns-timeout", "7s", "validate", file})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("validate: %v (stderr %q)", err, stderr.String())
	}
	want := "leash: warning: /etc/services:2: malformed line skipped: \"broken\": want `name port/proto [aliases]`\n"
	if stderr.String() != want {
		t.Errorf("stderr = %q, want %q", stderr.String(), want)
	}
	if !strings.Contains(stdout.String(), "valid") {
		t.Errorf("stdout = %q", stdout.String())
	}
	if got.DNSTimeout != 7*time.Second {
		t.Errorf("EnvOptions.DNSTimeout = %v, want 7s", got.DNSTimeout)
	}
}
