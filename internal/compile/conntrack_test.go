package compile_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/policy/policytest"
	"github.com/leash-dev/leash/internal/ruleset"
)

// TestConntrackOnlyWhenNeeded: the table has a ct match (which switches
// conntrack on for the whole host) exactly when a setting needs one, as
// docs/policy.md "What conntrack costs" promises.
func TestConntrackOnlyWhenNeeded(t *testing.T) {
	tests := []struct {
		name        string
		established string // baseline
		unowned     string
		override    string // the policy's own established, "" for none
		wantCT      bool
	}{
		{name: "defaults", established: "allow", unowned: "everyone", wantCT: true},
		{name: "no replies, unowned allowed", established: "deny", unowned: "allow", wantCT: false},
		{name: "replies allowed", established: "allow", unowned: "allow", wantCT: true},
		{name: "unowned judged", established: "deny", unowned: "everyone", wantCT: true},
		{name: "unowned denied", established: "deny", unowned: "deny", wantCT: true},
		{name: "one policy allows replies", established: "deny", unowned: "allow", override: "allow", wantCT: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			override := ""
			if tt.override != "" {
				override = "    established: " + tt.override + "\n"
			}
			src := fmt.Sprintf(`version: 1
baseline:
  established: %s
  unowned: %s
policies:
  - name: server
    everyone: true
%s    rules:
      - allow: {ports: [123/udp]}
    default: deny
`, tt.established, tt.unowned, override)
			res, err := policy.Load(context.Background(), "ct.yaml", []byte(src), policytest.Env(policytest.DefaultIDs))
			if err != nil {
				t.Fatalf("load: %v\n%s", err, src)
			}
			if got := hasCT(compile.Compile(res)); got != tt.wantCT {
				t.Errorf("table has a ct match = %v, want %v", got, tt.wantCT)
			}
		})
	}
}

func hasCT(rs *ruleset.Ruleset) bool {
	for _, c := range rs.Chains {
		for _, r := range c.Rules {
			for _, m := range r.Match {
				if m.Kind == ruleset.MatchCtReply || m.Kind == ruleset.MatchCtEstablished {
					return true
				}
			}
		}
	}
	return false
}
