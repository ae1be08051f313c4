package engine

import (
	"errors"
	"strings"
	"testing"

	"github.com/leash-dev/leash/internal/state"
)

// TestNamespaceRecords: generations say which network namespace they are
// for, and an engine in another namespace refuses to act on them (a
// container's generation restored at the host's boot would be a lock-out or
// fail-open), unless told to take the directory over.
func TestNamespaceRecords(t *testing.T) {
	h := newHarness(t)
	web1 := &state.Namespace{Name: "web1", Inode: 4026532290}
	container := h.engine()
	container.NetNS = web1
	c := policyFor(t, "deny")
	if _, err := container.Apply(ctx, c, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	gen, err := h.store.Current()
	if err != nil || gen.NetNS == nil || gen.NetNS.Name != "web1" {
		t.Fatalf("recorded namespace = %+v, %v; want web1", gen.NetNS, err)
	}

	host := h.engine()
	host.NetNS = &state.Namespace{Init: true, Inode: 4026531833}
	var ne *state.NamespaceError
	if _, err := host.Apply(ctx, policyFor(t, "allow"), ApplyOptions{}); !errors.As(err, &ne) {
		t.Fatalf("host Apply over web1's records = %v, want a NamespaceError", err)
	} else if !strings.Contains(err.Error(), "was recorded for network namespace web1, but this leash works in the host's network namespace") {
		t.Errorf("error = %v", err)
	}
	if _, err := host.Rollback(ctx, 1); !errors.As(err, &ne) {
		t.Errorf("host Rollback = %v, want a NamespaceError", err)
	}
	if _, err := host.Status(); !errors.As(err, &ne) {
		t.Errorf("host Status = %v, want a NamespaceError", err)
	}
	h.kernelHolds(c) // nothing changed
	// At the host's boot: the container's table is not loaded, and no
	// table at all would be fail-open: the emergency table.
	must(t, h.k.Reset())
	if _, err := host.Restore(ctx); err == nil || !strings.Contains(err.Error(), "EMERGENCY") {
		t.Fatalf("host Restore = %v, want the emergency table", err)
	}
	// Taken over on purpose.
	host.ForceNetNS = true
	if _, err := host.Apply(ctx, policyFor(t, "allow"), ApplyOptions{}); err != nil {
		t.Fatalf("Apply with ForceNetNS: %v", err)
	}
	if !strings.Contains(h.notesText(), "taking it over (--force-netns)") {
		t.Errorf("notes = %q", h.notesText())
	}
	if gen, _ := h.store.Current(); !gen.NetNS.Same(host.NetNS) {
		t.Errorf("the new generation's namespace = %+v, want the host's", gen.NetNS)
	}
}

// TestNamespaceOfInterruptedChange: a change killed half-way records its
// namespace in its intent, and an engine in another namespace neither
// recovers it (rolling a container's change back or forward into the
// host's records) nor builds on it: it refuses, naming both, and leaves the
// intent for the container's own leash.
func TestNamespaceOfInterruptedChange(t *testing.T) {
	h := newHarness(t)
	web1 := &state.Namespace{Name: "web1", Inode: 4026532290}
	container := h.engine()
	container.NetNS = web1
	killAt(h.k, true)
	killed(t, func() { container.Apply(ctx, policyFor(t, "deny"), ApplyOptions{}) })
	h.k.Hook = nil
	in, err := h.store.Intent()
	if err != nil || in == nil || in.NetNS == nil || in.NetNS.Name != "web1" {
		t.Fatalf("intent = %+v, %v; want one recorded for web1", in, err)
	}

	host := h.engine()
	host.NetNS = &state.Namespace{Init: true, Inode: 4026531833}
	var ne *state.NamespaceError
	_, err = host.Apply(ctx, policyFor(t, "allow"), ApplyOptions{})
	if !errors.As(err, &ne) || !strings.Contains(err.Error(), "the interrupted change to generation 1 was recorded for network namespace web1") {
		t.Fatalf("host Apply over web1's interrupted change = %v, want a NamespaceError naming it", err)
	}
	if in, _ := h.store.Intent(); in == nil {
		t.Error("the host recovered the container's interrupted change")
	}
	// The container's own leash recovers it.
	container = h.engine()
	container.NetNS = web1
	if _, err := container.Apply(ctx, policyFor(t, "deny"), ApplyOptions{}); err != nil {
		t.Fatalf("container Apply after its interrupted change: %v", err)
	}
	if in, _ := h.store.Intent(); in != nil {
		t.Errorf("intent still recorded after the container's recovery: %+v", in)
	}
}
