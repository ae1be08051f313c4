package policy

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/leash-dev/leash/internal/services"
)

// TestServicesProblems: a missing or damaged /etc/services is a warning for
// a policy that does not need the names it lacks, and is named in the error
// of one that does.
func TestServicesProblems(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "services")
	damaged := services.Parse("/etc/services", strings.NewReader("ssh 22/tcp\nbroken\nhttps 443/tcp\n"))
	const (
		noService = "allow: {to: [192.0.2.0/24], ports: [22/tcp]}"
		ssh       = "allow: {to: [192.0.2.0/24], ports: [ssh]}"
		gopher    = "allow: {to: [192.0.2.0/24], ports: [gopher/tcp]}"
	)
	missingWarning := "could not be read (open " + missing + ": no such file or directory): no service name is known, policies must give port numbers"
	tests := []struct {
		name         string
		db           *services.DB
		rule         string
		wantWarnings []string
		wantErr      string
	}{
		{name: "missing, no service named", db: services.Load(missing), rule: noService,
			wantWarnings: []string{missing + " " + missingWarning}},
		{name: "missing, service named", db: services.Load(missing), rule: ssh,
			wantErr: `p.yaml:6:45: "ssh" is not a port, a port range, a known service or a protocol (tcp, udp, icmp, icmpv6, ping, any); check /etc/services or write the port number (note: ` +
				missing + " could not be read: open " + missing + ": no such file or directory)"},
		{name: "malformed line, no service named", db: damaged, rule: noService,
			wantWarnings: []string{"/etc/services:2: malformed line skipped: \"broken\": want `name port/proto [aliases]`"}},
		{name: "malformed line, known service", db: damaged, rule: ssh,
			wantWarnings: []string{"/etc/services:2: malformed line skipped: \"broken\": want `name port/proto [aliases]`"}},
		{name: "malformed line, unknown service", db: damaged, rule: gopher,
			wantErr: `p.yaml:6:45: unknown service "gopher" for tcp; check /etc/services or write the port number (note: /etc/services line 2 is malformed and was skipped)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := testEnv()
			env.Services = tt.db
			src := "version: 1\npolicies:\n  - name: web\n    users: [alice]\n    rules:\n      - " + tt.rule + "\n    default: deny\n"
			res, err := Load(context.Background(), "p.yaml", []byte(src), env)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v\nwant  %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if diff := cmp.Diff(tt.wantWarnings, res.Warnings); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseTargetServicesProblem(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "services")
	_, err := ParseTarget("mail.example.com:smtp", services.Load(missing))
	want := `"mail.example.com:smtp": "smtp" is neither a port number nor a tcp service in /etc/services (note: ` +
		missing + " could not be read: open " + missing + ": no such file or directory)"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant  %s", err, want)
	}
}
