package engine

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/leash-dev/leash/internal/policy/policytest"
	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/state"
)

const hostPolicy = `version: 1
policies:
  - name: webmail
    users: [apache]
    rules:
      - allow: {to: [mail.example.com], ports: [25/tcp]}
    default: reject
`

// hostCompiled compiles hostPolicy with mail.example.com's IPv4 set
// holding addrs (as if DNS had answered them at apply).
func hostCompiled(t *testing.T, addrs ...netip.Addr) *Compiled {
	t.Helper()
	c, err := Compile(ctx, policytest.Env(policytest.DefaultIDs), "/etc/leash/webmail.yaml", []byte(hostPolicy))
	if err != nil {
		t.Fatal(err)
	}
	var elems []ruleset.Element
	for _, a := range addrs {
		elems = append(elems, ruleset.Element{Addr: a})
	}
	c.Ruleset.Set("host4_mail.example.com").SetElements(elems)
	c.Source = append(c.Source, []byte("# "+addrs[0].String()+"\n")...) // a different generation
	return c
}

func (h *harness) hostSet() []netip.Addr {
	h.t.Helper()
	var out []netip.Addr
	for _, e := range h.k.Table().Set("host4_mail.example.com").Elements() {
		out = append(out, e.Addr)
	}
	return out
}

// TestHostSetsCarry: a full replace carries a compiled hostname set's
// kernel elements only as far as the refresher's fresh record holds them:
// without leash daemon a reapply replaces a name's addresses (no
// accumulation); with it, the refreshed and kept addresses stay.
func TestHostSetsCarry(t *testing.T) {
	h := liveHarness(t)
	e := h.engine()
	a25, a26, a27, a28 := netip.MustParseAddr("192.0.2.25"), netip.MustParseAddr("192.0.2.26"), netip.MustParseAddr("192.0.2.27"), netip.MustParseAddr("192.0.2.28")
	if _, err := e.Apply(ctx, hostCompiled(t, a25), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	// No daemon: DNS moved to .26 by the next reapply; .25 is not kept.
	if _, err := e.Apply(ctx, hostCompiled(t, a26), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := h.hostSet(); !slices.Equal(got, []netip.Addr{a26}) {
		t.Errorf("without a daemon: %v, want only the new answer", got)
	}

	// The daemon refreshed: .27 answered, .26 kept (a live connection).
	if _, err := e.UpdateLive(ctx, []ruleset.ElementOp{{Set: "host4_mail.example.com", Elem: ruleset.Element{Addr: a27}}}); err != nil {
		t.Fatal(err)
	}
	rec := &state.HostsRecord{Time: h.clk.Now(), Hosts: []state.HostState{{Name: "mail.example.com", Addrs: []netip.Addr{a27},
		Kept: []state.KeptAddr{{Addr: a26, Gone: h.clk.Now()}}}}}
	if err := h.store.SetHosts(rec); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(ctx, hostCompiled(t, a28), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := h.hostSet(); !slices.Equal(got, []netip.Addr{a26, a27, a28}) {
		t.Errorf("with the daemon's record: %v, want the compiled, refreshed and kept addresses", got)
	}

	// A stale record (the daemon stopped long ago) carries nothing.
	h.clk.Advance(HostRecordFresh + time.Minute)
	if _, err := e.Apply(ctx, hostCompiled(t, a25), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := h.hostSet(); !slices.Equal(got, []netip.Addr{a25}) {
		t.Errorf("with a stale record: %v, want only the compiled answer", got)
	}
}
