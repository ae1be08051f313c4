package policy

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/leash-dev/leash/internal/resolve"
)

// lanFiles stands for /etc/hosts and /etc/ethers.
type lanFiles struct {
	resolve.Resolver
	hosts  map[string][]netip.Addr
	ethers map[string]string
}

func (l lanFiles) LookupHostsFile(h string) ([]netip.Addr, error) { return l.hosts[h], nil }
func (l lanFiles) LookupEthers(h string) (string, error)          { return l.ethers[h], nil }

func TestHostNamesFromHostsAndEthers(t *testing.T) {
	env := testEnv()
	env.Resolver = lanFiles{Resolver: env.Resolver,
		hosts:  map[string][]netip.Addr{"nas": {netip.MustParseAddr("192.168.1.5")}, "kids-pc": {netip.MustParseAddr("192.168.1.10")}},
		ethers: map[string]string{"kids-pc": "02:00:00:c8:01:0a", "printer": "02:00:00:c8:01:0b"},
	}
	for _, tc := range []struct {
		name     string
		host     string
		wantMACs []string
		wantV4   []netip.Prefix
		wantErr  string
	}{
		{name: "hosts file only", host: "nas", wantV4: pfx("192.168.1.5/32")},
		{name: "ethers only: its MAC", host: "printer", wantMACs: []string{"02:00:00:c8:01:0b"}},
		{name: "both: MAC and address", host: "kids-pc", wantMACs: []string{"02:00:00:c8:01:0a"}, wantV4: pfx("192.168.1.10/32")},
		{name: "neither", host: "ghost", wantErr: "hosts: ghost is neither in the hosts file (/etc/hosts) nor in /etc/ethers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "version: 1\npolicies:\n  - name: lan\n    hosts: [" + tc.host + "]\n    default: deny\n"
			r, err := Load(context.Background(), "t.yaml", []byte(src), env)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Load: %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p := r.Policies[0]
			if diff := cmp.Diff(tc.wantMACs, p.MACs); diff != "" {
				t.Errorf("MACs (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantV4, p.SourceV4, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
				t.Errorf("SourceV4 (-want +got):\n%s", diff)
			}
		})
	}
}
