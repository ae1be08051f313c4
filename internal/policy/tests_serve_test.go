package policy

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestServeCases(t *testing.T) {
	const head = "version: 1\npolicies:\n  - name: p\n    users: [alice]\n    default: deny\ntests:\n"
	for _, tc := range []struct {
		name    string
		cases   string
		want    []*TestCase // Pos and As left out
		wantErr string      // a Parse error, or a case's Err
	}{
		{
			name:  "tcp by default",
			cases: "  - {as: alice, serve: 5432, expect: allow}\n",
			want:  []*TestCase{{Text: "{as: alice, serve: 5432, expect: allow}", Target: Target{Port: 5432, Proto: "tcp"}, Expect: Allow, Inbound: true}},
		},
		{
			name:  "udp service name",
			cases: "  - {as: alice, serve: domain/udp, expect: deny}\n",
			want:  []*TestCase{{Text: "{as: alice, serve: domain/udp, expect: deny}", Target: Target{Port: 53, Proto: "udp"}, Expect: Deny, Inbound: true}},
		},
		{
			name:    "both connect and serve",
			cases:   "  - {as: alice, connect: 192.0.2.1:22, serve: 22, expect: allow}\n",
			wantErr: `has both "connect" and "serve"`,
		},
		{
			name:    "neither",
			cases:   "  - {as: alice, expect: allow}\n",
			wantErr: `or {as: USER, serve: PORT/PROTO, expect: allow|deny}`,
		},
		{
			name:    "icmp cannot be served",
			cases:   "  - {as: alice, serve: 5/icmp, expect: allow}\n",
			wantErr: `a server is tcp or udp`,
		},
		{
			name:    "port 0",
			cases:   "  - {as: alice, serve: 0/udp, expect: allow}\n",
			wantErr: `port 0 is not a destination port`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse("t.yaml", []byte(head+tc.cases))
			if err != nil {
				if tc.wantErr == "" || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Parse: %v, want error containing %q", err, tc.wantErr)
				}
				return
			}
			got := ResolveTests(context.Background(), f, testEnv())
			if tc.wantErr != "" {
				if len(got) != 1 || !strings.Contains(got[0].Err, tc.wantErr) {
					t.Fatalf("cases = %+v, want one failing with %q", got, tc.wantErr)
				}
				return
			}
			for _, c := range got {
				c.Pos, c.As = Pos{}, Identity{}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("cases (-want +got):\n%s", diff)
			}
		})
	}
}
