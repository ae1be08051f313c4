package engine

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/leash-dev/leash/internal/policy/policytest"
)

// TestWindowsStatus: an apply records when its time windows end and which
// zones they use; status says when they are renewed and when the next
// UTC-offset change of those zones is, and that they expire.
func TestWindowsStatus(t *testing.T) {
	h := newHarness(t)
	env := policytest.Env(policytest.DefaultIDs)
	env.Clock = h.clk
	src := "version: 1\npolicies:\n  - name: dev\n    users: [admin]\n    rules:\n" +
		"      - allow: {ports: [443/tcp], when: {days: [mon-fri], hours: [\"08:00-18:00\"], zone: Europe/Berlin}}\n" +
		"      - allow: {ports: [22/tcp], when: {hours: [\"22:00-06:00\"], zone: Asia/Kathmandu}}\n    default: reject\n"
	c, err := Compile(context.Background(), env, "policy.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c.windows(), c.Transfer().Compiled().windows()); diff != "" {
		t.Errorf("windows of the transferred policy (-compiled +transferred):\n%s", diff)
	}
	e := h.engine()
	if _, err := e.Apply(context.Background(), c, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := e.Status()
	if err != nil {
		t.Fatal(err)
	}
	until := t0.Add(14 * 24 * time.Hour)
	want := &WindowsStatus{Until: until, RenewAt: until.Add(-24 * time.Hour), Zones: []string{"Asia/Kathmandu", "Europe/Berlin"},
		NextChange: time.Date(2027, 3, 28, 1, 0, 0, 0, time.UTC), NextZone: "Europe/Berlin"}
	if diff := cmp.Diff(want, st.Windows); diff != "" {
		t.Errorf("windows status (-want +got):\n%s", diff)
	}
	if RenewDue(st.Generation, h.clk.Now()) {
		t.Error("renewal due right after the apply")
	}
	h.clk.Advance(14 * 24 * time.Hour)
	if st, err = e.Status(); err != nil {
		t.Fatal(err)
	}
	if !st.Windows.Expired || !RenewDue(st.Generation, h.clk.Now()) {
		t.Errorf("14 days on: expired %v, renewal due %v; want both", st.Windows.Expired, RenewDue(st.Generation, h.clk.Now()))
	}
}
