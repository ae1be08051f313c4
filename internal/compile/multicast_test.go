package compile

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/policy/policytest"
	"github.com/leash-dev/leash/internal/ruleset"
)

// TestMulticastReports: the kernel's ownerless MLD and IGMP reports pass the
// unowned exception at a bounded rate by default, not at all with deny, and
// without a limit with allow; neighbour discovery always passes.
func TestMulticastReports(t *testing.T) {
	for _, tc := range []struct {
		mode string
		want []string
	}{
		{mode: "", want: []string{
			"ct state established,related counter accept",
			"meta l4proto ipv6-icmp icmpv6 type @unowned_icmpv6 counter accept",
			"meta l4proto ipv6-icmp icmpv6 type @unowned_mld limit rate 1/second burst 10 packets counter accept",
			"meta l4proto igmp limit rate 1/second burst 10 packets counter accept",
			"counter drop"}},
		{mode: "deny", want: []string{
			"ct state established,related counter accept",
			"meta l4proto ipv6-icmp icmpv6 type @unowned_icmpv6 counter accept",
			"counter drop"}},
		{mode: "allow", want: []string{
			"ct state established,related counter accept",
			"meta l4proto ipv6-icmp icmpv6 type @unowned_icmpv6 counter accept",
			"meta l4proto ipv6-icmp icmpv6 type @unowned_mld counter accept",
			"meta l4proto igmp counter accept",
			"counter drop"}},
	} {
		t.Run("multicast_reports: "+tc.mode, func(t *testing.T) {
			src := "version: 1\nbaseline:\n  unowned: deny\n  orphan_mark: off\n  mptcp_joins: unowned\n"
			if tc.mode != "" {
				src += "  multicast_reports: " + tc.mode + "\n"
			}
			src += "policies:\n  - name: p\n    users: [oracle]\n    default: deny\n"
			r, err := policy.Load(context.Background(), "p.yaml", []byte(src), policytest.Env(policytest.DefaultIDs))
			if err != nil {
				t.Fatal(err)
			}
			rs := Compile(r)
			var got []string
			for _, rule := range rs.Chain(ChainUnowned).Rules {
				rule.Origin = ruleset.Origin{}
				got = append(got, ruleset.RuleText(rs, rule, false))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("unowned chain (-want +got):\n%s", diff)
			}
		})
	}
}
