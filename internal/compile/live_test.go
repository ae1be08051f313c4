package compile

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/leash-dev/leash/internal/eval"
	"github.com/leash-dev/leash/internal/nft"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/policy/policytest"
	"github.com/leash-dev/leash/internal/ruleset"
)

const livePolicy = `version: 1
destinations:
  mirrors: [updates.example.org, 10.0.0.0/8]
policies:
  - name: mail
    users: [apache]
    rules:
      - allow: {to: [mail.example.com, mirrors], ports: [25/tcp]}
    default: deny
`

// TestHostSets: a rule's hostnames (direct and through a list) become live
// sets per name and family, fed by host:NAME, holding what the name
// resolved to; Compile emits them (without timeout), they load, and one
// name is refreshed alone by its source.
func TestHostSets(t *testing.T) {
	r, err := policy.Load(context.Background(), "live.yaml", []byte(livePolicy), policytest.Env(policytest.DefaultIDs))
	if err != nil {
		t.Fatal(err)
	}
	to := r.Policies[0].Rules[0].To
	if diff := cmp.Diff([]string{"mail.example.com", "updates.example.org"}, to.Hosts); diff != "" {
		t.Fatalf("provenance (-want +got):\n%s", diff)
	}
	sets := HostSets(r, to, LiveOptions{Timeout: 5 * time.Minute, Counters: true})
	rs := Compile(r)
	if err := ruleset.Validate(rs); err != nil {
		t.Fatal(err)
	}
	var got, compiled []string
	for _, s := range sets {
		got = append(got, s.Name+" "+s.Live.Source)
	}
	for _, s := range rs.Sets {
		if s.Live != nil {
			compiled = append(compiled, s.Name+" "+s.Live.Source)
			if s.Live.Timeout != 0 {
				t.Errorf("compiled set %s has a timeout: without the daemon it would empty", s.Name)
			}
		}
	}
	want := []string{"host4_mail.example.com host:mail.example.com", "host6_mail.example.com host:mail.example.com", "host4_updates.example.org host:updates.example.org", "host6_updates.example.org host:updates.example.org"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sets (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, compiled); diff != "" {
		t.Errorf("compiled live sets (-want +got):\n%s", diff)
	}
	text := ruleset.Text(&ruleset.Ruleset{Sets: sets[:1]}, ruleset.TextOptions{})
	if !strings.Contains(text, "\t\ttimeout 5m\n\t\tcomment \"host:mail.example.com\"\n\t\telements = { 192.0.2.25 }\n") {
		t.Errorf("text:\n%s", text)
	}

	// The path end to end: load, refresh mail.example.com alone by its source.
	k := nft.NewFake()
	if err := k.Apply(rs); err != nil {
		t.Fatal(err)
	}
	var ops []ruleset.ElementOp
	for _, s := range rs.Sets {
		if s.Live != nil && s.Live.Source == ruleset.SourceHost("mail.example.com") && s.Kind == ruleset.KindIPv4 {
			ops = append(ops,
				ruleset.ElementOp{Set: s.Name, Elem: ruleset.Element{Addr: netip.MustParseAddr("192.0.2.26")}},
				ruleset.ElementOp{Set: s.Name, Delete: true, Elem: ruleset.Element{Addr: netip.MustParseAddr("192.0.2.25")}})
		}
	}
	if err := k.UpdateElements(ops); err != nil {
		t.Fatal(err)
	}
	after := k.Table()
	if e := after.Set("host4_mail.example.com").Elements(); len(e) != 1 || e[0].Addr != netip.MustParseAddr("192.0.2.26") {
		t.Errorf("refreshed set = %+v", e)
	}
	if e := after.Set("host4_updates.example.org").Elements(); len(e) != 1 {
		t.Errorf("the other name's set changed: %+v", e)
	}
	if n := HostSetName(4, strings.Repeat("a", 253)); len(n) != ruleset.MaxNameLen || !ruleset.ValidName(n) {
		t.Errorf("long name %q (%d bytes)", n, len(n))
	}
}

// TestHostRulesKeepFirstMatch: a rule naming a hostname keeps its place in
// first-match order against static rules, whatever the name resolves to
// later: its live set is matched where the rule stands, and a later rule
// sharing a lookup is never moved above it.
func TestHostRulesKeepFirstMatch(t *testing.T) {
	const src = `version: 1
policies:
  - name: mail
    users: [apache]
    rules:
      - deny: {to: [192.0.2.0/28], ports: [25/tcp]}
      - allow: {to: [mail.example.com, 198.51.100.1], ports: [25/tcp]}
      - deny: {to: [192.0.2.0/24, 198.51.100.0/24], ports: [25/tcp]}
      - allow: {to: [192.0.2.200], ports: [25/tcp]}
    default: reject
`
	r, err := policy.Load(context.Background(), "order.yaml", []byte(src), policytest.Env(policytest.DefaultIDs))
	if err != nil {
		t.Fatal(err)
	}
	rs := Compile(r)
	if err := ruleset.Validate(rs); err != nil {
		t.Fatal(err)
	}
	k := nft.NewFake()
	if err := k.Apply(rs); err != nil {
		t.Fatal(err)
	}
	verdict := func(addr string) string {
		t.Helper()
		res, err := eval.Evaluate(k.Table(), eval.Packet{Owned: true, UID: policytest.DefaultIDs.Apache, GID: policytest.DefaultIDs.Users,
			Daddr: netip.MustParseAddr(addr), Proto: ruleset.ProtoTCP, Dport: 25})
		if err != nil {
			t.Fatal(err)
		}
		if res.Rule == nil {
			return "no rule"
		}
		return res.Rule.Origin.ID + " " + string(res.Verdict.Kind)
	}
	for _, tc := range []struct {
		name string
		ops  []ruleset.ElementOp
		addr string
		want string
	}{
		{name: "resolved at apply", addr: "192.0.2.25", want: "mail/r2 accept"},
		{name: "static part of the rule", addr: "198.51.100.1", want: "mail/r2 accept"},
		{name: "inside the earlier deny", addr: "192.0.2.5", want: "mail/r1 drop"},
		{name: "later rule", addr: "192.0.2.200", want: "mail/r3 drop"},
		{name: "moved into the earlier deny", addr: "192.0.2.6", want: "mail/r1 drop",
			ops: []ruleset.ElementOp{{Set: "host4_mail.example.com", Elem: ruleset.Element{Addr: netip.MustParseAddr("192.0.2.6")}}}},
		{name: "moved over the later rules", addr: "192.0.2.200", want: "mail/r2 accept",
			ops: []ruleset.ElementOp{{Set: "host4_mail.example.com", Elem: ruleset.Element{Addr: netip.MustParseAddr("192.0.2.200")}}}},
		{name: "gone", addr: "192.0.2.25", want: "mail/r3 drop",
			ops: []ruleset.ElementOp{{Set: "host4_mail.example.com", Delete: true, Elem: ruleset.Element{Addr: netip.MustParseAddr("192.0.2.25")}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := k.UpdateElements(tc.ops); err != nil {
				t.Fatal(err)
			}
			if got := verdict(tc.addr); got != tc.want {
				t.Errorf("%s: got %s, want %s", tc.addr, got, tc.want)
			}
		})
	}
}
