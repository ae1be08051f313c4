package firewalls

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCaveats(t *testing.T) {
	others := Others{
		Chains: []Chain{
			{Family: "ip", Table: "legacyscript", Chain: "output", Hook: "output", Priority: 0, Policy: "accept", Rules: 1, Drops: true},
			{Family: "inet", Table: "firewalld", Chain: "filter_OUTPUT", Hook: "output", Priority: 10, Policy: "drop", Rules: 3},
			{Family: "ip6", Table: "only6", Chain: "out", Hook: "output", Priority: -5, Policy: "accept", Rules: 1, Drops: true},
			{Family: "inet", Table: "counting", Chain: "out", Hook: "output", Priority: -300, Policy: "accept", Rules: 2},
			{Family: "ip", Table: "filter", Chain: "FORWARD", Hook: "forward", Priority: 0, Policy: "drop"},
		},
		Legacy: []Legacy{{Family: "ip", Table: "filter"}},
	}
	for _, tc := range []struct {
		name   string
		hook   string
		family int
		want   []string
	}{
		{name: "IPv4 output", hook: "output", family: 4, want: []string{
			"leash allows; table ip legacyscript may still drop it (chain output, hook output, priority 0, alongside leash)",
			"leash allows; table inet firewalld drops it unless one of its rules accepts it (chain filter_OUTPUT, hook output, priority 10, after leash)",
			"leash allows; legacy iptables-legacy table filter is loaded, whose rules nftables cannot show: they may still drop it (iptables-legacy -S -t filter lists them)",
		}},
		{name: "IPv6 output", hook: "output", family: 6, want: []string{
			"leash allows; table ip6 only6 may still drop it (chain out, hook output, priority -5, before leash)",
			"leash allows; table inet firewalld drops it unless one of its rules accepts it (chain filter_OUTPUT, hook output, priority 10, after leash)",
		}},
		{name: "nothing on input", hook: "input", family: 4, want: []string{
			"leash allows; legacy iptables-legacy table filter is loaded, whose rules nftables cannot show: they may still drop it (iptables-legacy -S -t filter lists them)",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, others.Caveats(tc.hook, 0, tc.family)); diff != "" {
				t.Errorf("Caveats (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOnHookOrder(t *testing.T) {
	o := Others{Chains: []Chain{
		{Family: "ip", Table: "b", Chain: "x", Hook: "output", Priority: 10},
		{Family: "inet", Table: "a", Chain: "y", Hook: "output", Priority: -10},
		{Family: "ip", Table: "a", Chain: "z", Hook: "input"},
	}}
	var got []string
	for _, c := range o.OnHook("output") {
		got = append(got, c.Table)
	}
	if diff := cmp.Diff([]string{"a", "b"}, got); diff != "" {
		t.Errorf("OnHook order (-want +got):\n%s", diff)
	}
}
