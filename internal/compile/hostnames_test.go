package compile

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/policy/policytest"
	dns "github.com/leash-dev/leash/internal/resolve"
	"github.com/leash-dev/leash/internal/ruleset"
)

// TestHostnamesStayFlat: hostnames are destinations like any address:
// their addresses join the shared lookups, so the kernel rules a policy
// compiles to do not grow with the number of hostnames (per-packet cost is
// one lookup per family, whatever the count), only the elements do.
// (Addresses are spread so that they do not merge into prefixes of other
// lengths: every prefix length is a lookup of its own, bounded by 33+129.)
func TestHostnamesStayFlat(t *testing.T) {
	rules := func(n int) (int, int) {
		hosts := map[string][]netip.Addr{}
		var mail, web []string
		for i := range n {
			m, w := fmt.Sprintf("mx%d.example.com", i), fmt.Sprintf("www%d.example.org", i)
			hosts[m] = []netip.Addr{netip.AddrFrom4([4]byte{10, byte(i % 250), byte(i / 250), 1}), netip.MustParseAddr(fmt.Sprintf("2001:db8:%x::1", i+1))}
			hosts[w] = []netip.Addr{netip.AddrFrom4([4]byte{11, byte(i % 250), byte(i / 250), 1})}
			mail, web = append(mail, m), append(web, w)
		}
		src := fmt.Sprintf(`version: 1
destinations:
  web: [%s]
policies:
  - name: p
    users: [apache]
    rules:
      - allow: {to: [%s], ports: [25/tcp]}
      - deny: {to: [172.16.0.0/16], ports: [25/tcp]}
      - allow: {to: [web, 192.0.2.1], ports: [https]}
    default: reject
`, strings.Join(web, ", "), strings.Join(mail, ", "))
		env := policytest.Env(policytest.DefaultIDs)
		env.Resolver = dns.Static(hosts)
		r, err := policy.Load(context.Background(), "many.yaml", []byte(src), env)
		if err != nil {
			t.Fatal(err)
		}
		rs := Compile(r)
		if err := ruleset.Validate(rs); err != nil {
			t.Fatal(err)
		}
		kernel := 0
		for _, c := range rs.Chains {
			kernel += len(c.Rules)
		}
		return kernel, len(rs.Sets) + len(rs.Maps)
	}
	one, oneSets := rules(1)
	many, manySets := rules(1000)
	if one != many || oneSets != manySets {
		t.Errorf("1 hostname: %d kernel rules, %d sets and maps; 1,000 hostnames: %d rules, %d sets and maps (want the same)", one, oneSets, many, manySets)
	}
}
