package engine

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/leash-dev/leash/internal/drift"
	"github.com/leash-dev/leash/internal/policy/policytest"
	"github.com/leash-dev/leash/internal/resolve"
	"github.com/leash-dev/leash/internal/state"
)

const hostPolicy = `version: 1
policies:
  - name: mail
    users: [apache]
    rules:
      - allow: {to: [mail.example.com], ports: [25/tcp]}
      - deny: {to: [198.51.100.0/24]}
    default: reject
`

// hostCompiled is hostPolicy compiled with mail.example.com at addrs.
func hostCompiled(t *testing.T, addrs ...string) *Compiled {
	t.Helper()
	var as []netip.Addr
	for _, a := range addrs {
		as = append(as, netip.MustParseAddr(a))
	}
	env := policytest.Env(policytest.DefaultIDs)
	env.Resolver = resolve.Static(map[string][]netip.Addr{"mail.example.com": as})
	c, err := Compile(context.Background(), env, "mail.yaml", []byte(hostPolicy))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRefreshHosts: a hostname's new addresses reach the kernel as a
// recompile diffed against the table loaded: the changed elements only, no
// new generation, recorded so that status, restore and the next refresh
// see the table as loaded; the same answers again change nothing; a
// refusal changes nothing; a change of layout is a full replace as a new
// generation. After each, the kernel holds what a fresh compile gives.
func TestRefreshHosts(t *testing.T) {
	h := newHarness(t)
	e := h.engine()
	ctx := context.Background()
	if _, err := e.Apply(ctx, hostCompiled(t, "192.0.2.25", "2001:db8::25"), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	refresh := func(addrs ...string) (*HostsResult, error) {
		return e.RefreshHosts(ctx, func(_ context.Context, gen *state.Generation) (*Compiled, error) {
			if string(gen.Policy) != hostPolicy {
				t.Fatalf("recompiled %q, want the stored policy", gen.Policy)
			}
			return hostCompiled(t, addrs...), nil
		})
	}
	inSync := func(what string) {
		t.Helper()
		st, err := e.Status()
		if err != nil || st.Report.State != drift.InSync {
			t.Fatalf("%s: status %+v, %v; want in sync", what, st.Report, err)
		}
	}
	for _, tc := range []struct {
		name     string
		addrs    []string
		refuse   bool
		ops      int
		replaced bool
		gen      int
		holds    []string // what the kernel then holds (a fresh compile with these)
	}{
		{name: "same answer", addrs: []string{"192.0.2.25", "2001:db8::25"}, gen: 1, holds: []string{"192.0.2.25", "2001:db8::25"}},
		{name: "moved: one deleted, one added", addrs: []string{"192.0.2.26", "2001:db8::25"}, ops: 2, gen: 1, holds: []string{"192.0.2.26", "2001:db8::25"}},
		{name: "again: nothing to do", addrs: []string{"192.0.2.26", "2001:db8::25"}, gen: 1, holds: []string{"192.0.2.26", "2001:db8::25"}},
		{name: "a second address", addrs: []string{"192.0.2.26", "192.0.2.40", "2001:db8::25"}, ops: 1, gen: 1, holds: []string{"192.0.2.26", "192.0.2.40", "2001:db8::25"}},
		{name: "refused", addrs: []string{"192.0.2.27"}, refuse: true, gen: 1, holds: []string{"192.0.2.26", "192.0.2.40", "2001:db8::25"}},
		{name: "into the later deny: the layout changes", addrs: []string{"198.51.100.7"}, replaced: true, gen: 2, holds: []string{"198.51.100.7"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.refuse {
				h.k.RefuseNext(errors.New("no space left on device"))
			}
			res, err := refresh(tc.addrs...)
			switch {
			case tc.refuse && err == nil:
				t.Fatal("a refused update succeeded")
			case !tc.refuse && err != nil:
				t.Fatal(err)
			case err == nil && (res.Ops != tc.ops || res.Replaced != tc.replaced || res.Generation != tc.gen):
				t.Errorf("result %+v, want %d ops, replaced %t, generation %d", res, tc.ops, tc.replaced, tc.gen)
			}
			if g := h.current(); g != tc.gen {
				t.Errorf("generation %d in force, want %d", g, tc.gen)
			}
			h.kernelHolds(hostCompiled(t, tc.holds...))
			inSync(tc.name)
		})
	}

	// A reboot: restore loads the generation as last refreshed.
	h2 := newHarness(t)
	e2 := h2.engine()
	if _, err := e2.Apply(ctx, hostCompiled(t, "192.0.2.25"), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e2.RefreshHosts(ctx, func(context.Context, *state.Generation) (*Compiled, error) { return hostCompiled(t, "192.0.2.26"), nil }); err != nil {
		t.Fatal(err)
	}
	if err := h2.k.Reset(); err != nil {
		t.Fatal(err)
	}
	if _, err := e2.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	h2.kernelHolds(hostCompiled(t, "192.0.2.26"))
}
