package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/leash-dev/leash/internal/drift"
	"github.com/leash-dev/leash/internal/policy/policytest"
	"github.com/leash-dev/leash/internal/ruleset"
)

// TestEntryRuleCounters: a rule list compiled into a lookup whose entries
// carry their rules' verdicts is in sync after apply, and Counters names
// each rule with its policy line, from the generation (the kernel holds
// only the ids), summing its entries' counters.
func TestEntryRuleCounters(t *testing.T) {
	src := `version: 1
policies:
  - name: web
    everyone: true
    rules:
      - allow: {to: [192.0.2.0/24], ports: [25/tcp, 587/tcp]}
      - deny: {to: [198.51.100.0/24], ports: [22/tcp]}
    default: deny
`
	c, err := Compile(context.Background(), policytest.Env(policytest.DefaultIDs), "policy.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t)
	e := h.engine()
	if _, err := e.Apply(ctx, c, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if st, err := e.Status(); err != nil || st.State != drift.InSync {
		t.Fatalf("status %+v, %v; want in sync", st, err)
	}
	h.k.Tamper(func(rs *ruleset.Ruleset) { // the kernel counted
		for _, m := range rs.Maps {
			for i := range m.Entries {
				m.Entries[i].Packets, m.Entries[i].Bytes = 2, 100
			}
		}
	})
	cs, err := e.Counters()
	if err != nil {
		t.Fatal(err)
	}
	var got []drift.RuleCounters
	for _, cc := range cs {
		if cc.Policy == "web" {
			for _, r := range cc.Rules {
				if r.ID == "web/r1" || r.ID == "web/r2" {
					got = append(got, r)
				}
			}
		}
	}
	want := []drift.RuleCounters{
		{ID: "web/r1", Verdict: "accept", Count: drift.Count{Packets: 4, Bytes: 200}, Source: "policy.yaml:6:9", Text: "allow: {to: [192.0.2.0/24], ports: [25/tcp, 587/tcp]}"},
		{ID: "web/r2", Verdict: "drop", Count: drift.Count{Packets: 2, Bytes: 100}, Source: "policy.yaml:7:9", Text: "deny: {to: [198.51.100.0/24], ports: [22/tcp]}"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rule counters (-want +got):\n%s", diff)
	}
}

// TestChainRuleCounters: rules of many addresses each are counted by a
// verdict chain each (the lookup's map has no per-entry counters), and
// Counters still names each rule with its line and its chain's count.
func TestChainRuleCounters(t *testing.T) {
	list := func(a int) string {
		var s []string
		for i := range 300 {
			s = append(s, fmt.Sprintf("10.%d.%d.%d", a, i/100, 2*(i%100))) // not adjacent: no merging
		}
		return strings.Join(s, ", ")
	}
	src := "version: 1\npolicies:\n  - name: web\n    everyone: true\n    rules:\n" +
		"      - allow: {to: [" + list(1) + "]}\n" +
		"      - deny: {to: [" + list(2) + "]}\n" +
		"    default: deny\n"
	c, err := Compile(context.Background(), policytest.Env(policytest.DefaultIDs), "policy.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range c.Ruleset.Maps {
		if strings.HasPrefix(m.Name, "web_m") && m.Counters {
			t.Fatalf("map %s counts per entry; want a chain per rule", m.Name)
		}
	}
	h := newHarness(t)
	e := h.engine()
	if _, err := e.Apply(ctx, c, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	h.k.Tamper(func(rs *ruleset.Ruleset) { // the kernel counted
		for _, ch := range rs.Chains {
			if strings.HasPrefix(ch.Name, "p_web.r") {
				ch.Rules[len(ch.Rules)-1].Packets, ch.Rules[len(ch.Rules)-1].Bytes = 3, 180
			}
		}
	})
	if st, err := e.Status(); err != nil || st.State != drift.InSync {
		t.Fatalf("status %+v, %v; want in sync", st, err)
	}
	cs, err := e.Counters()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, cc := range cs {
		for _, r := range cc.Rules {
			if r.ID == "web/r1" || r.ID == "web/r2" {
				got = append(got, fmt.Sprintf("%s %s %d/%d %s", r.ID, r.Verdict, r.Count.Packets, r.Count.Bytes, r.Source))
			}
		}
	}
	want := []string{"web/r1 accept 3/180 policy.yaml:6:9", "web/r2 drop 3/180 policy.yaml:7:9"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rule counters (-want +got):\n%s", diff)
	}
}
