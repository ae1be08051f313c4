package nft

import (
	"os/exec"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/leash-dev/leash/internal/firewalls"
	"github.com/leash-dev/leash/internal/kerneltest"
)

// TestOtherChains reads the other tables' base chains as real tools leave
// them: a hand-written script's drop, iptables-nft's OUTPUT chain with a
// jump into a user chain that rejects, a policy-drop forward chain; leash's
// own table and regular chains are not listed.
func TestOtherChains(t *testing.T) {
	ns, c := newNS(t)
	if err := c.Apply(sample()); err != nil {
		t.Fatal(err)
	}
	inNS(t, ns, `table ip legacyscript {
	chain output {
		type filter hook output priority 0; policy accept;
		tcp dport 80 drop
	}
	chain helper {
		counter
	}
}
table inet quiet {
	chain out {
		type filter hook output priority -300; policy accept;
		counter
	}
	chain forwarded {
		type filter hook forward priority 0; policy drop;
	}
}
`, "nft", "-f", "-")
	if _, err := exec.LookPath("iptables-nft"); err != nil {
		kerneltest.Unavailable(t, "iptables-nft is not installed (Debian package iptables)")
	} else {
		inNS(t, ns, "", "iptables-nft", "-N", "LEASHTEST")
		inNS(t, ns, "", "iptables-nft", "-A", "LEASHTEST", "-p", "udp", "-j", "REJECT")
		inNS(t, ns, "", "iptables-nft", "-A", "OUTPUT", "-d", "10.200.0.0/16", "-j", "LEASHTEST")
	}
	got, err := c.OtherChains()
	if err != nil {
		t.Fatal(err)
	}
	o := firewalls.Others{Chains: got}
	want := []firewalls.Chain{
		{Family: "inet", Table: "quiet", Chain: "out", Hook: "output", Priority: -300, Policy: "accept", Rules: 1},
		{Family: "ip", Table: "filter", Chain: "OUTPUT", Hook: "output", Priority: 0, Policy: "accept", Rules: 1, Drops: true},
		{Family: "ip", Table: "legacyscript", Chain: "output", Hook: "output", Priority: 0, Policy: "accept", Rules: 1, Drops: true},
	}
	if diff := cmp.Diff(want, o.OnHook("output")); diff != "" {
		t.Errorf("output chains (-want +got):\n%s", diff)
	}
	fwd := o.OnHook("forward")
	if len(fwd) != 1 || fwd[0].Table != "quiet" || fwd[0].Chain != "forwarded" || fwd[0].Policy != "drop" || !fwd[0].MayDrop() {
		t.Errorf("forward chains = %+v, want quiet's policy-drop chain", fwd)
	}
}

// TestLegacyTables: a table of legacy iptables in the namespace is named
// (its rules are invisible to nftables).
func TestLegacyTables(t *testing.T) {
	ns, _ := newNS(t)
	if _, err := exec.LookPath("iptables-legacy"); err != nil {
		kerneltest.Unavailable(t, "iptables-legacy is not installed (Debian package iptables)")
	}
	inNS(t, ns, "", "iptables-legacy", "-A", "OUTPUT", "-p", "tcp", "--dport", "80", "-j", "DROP")
	c, err := OpenNetNS(ns.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	o, err := c.Others()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, l := range o.Legacy {
		found = found || (l.Family == "ip" && l.Table == "filter")
	}
	if !found {
		t.Errorf("legacy tables = %+v, want ip filter", o.Legacy)
	}
}
