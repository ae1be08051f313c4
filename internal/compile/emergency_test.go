package compile_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/ruleset"
)

func TestEmergency(t *testing.T) {
	rs := compile.Emergency()
	if err := ruleset.Validate(rs); err != nil {
		t.Fatalf("emergency table is not loadable: %v", err)
	}
	want := `table inet leash {
	set emergency_icmpv6 {
		type icmpv6_type
		elements = { 130, 131, 132, 133,
			     134, 135, 136, 137,
			     143 }
	}
	set emergency_dhcp {
		type inet_service
		elements = { 67, 547 }
	}

	chain output {
		type filter hook output priority filter; policy accept;
		oif "lo" counter accept comment "emergency/loopback"
		ct state established,related counter accept comment "emergency/established"
		meta l4proto ipv6-icmp icmpv6 type @emergency_icmpv6 counter accept comment "emergency/control"
		meta l4proto udp th dport @emergency_dhcp counter accept comment "emergency/dhcp"
		counter drop comment "emergency/drop"
	}
}
`
	if diff := cmp.Diff(want, ruleset.Text(rs, ruleset.TextOptions{})); diff != "" {
		t.Errorf("emergency table (-want +got):\n%s", diff)
	}
	for _, r := range rs.Chains[0].Rules {
		if !strings.HasPrefix(r.Origin.ID, "emergency/") {
			t.Errorf("rule %q: comment does not start with emergency/", r.Origin.ID)
		}
	}
}
