package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRestoreFailsClosed: every damaged state directory still leaves a
// table in the kernel at boot: the intact generation if one reads, else
// the emergency table.
func TestRestoreFailsClosed(t *testing.T) {
	for _, tc := range []struct {
		name string
		// pending applies the second policy with a confirmation window.
		pending bool
		damage  func(h *harness)
		// want is the table in force: "first", "second" or "emergency".
		want    string
		wantErr string
	}{
		{name: "lock cannot be taken (read-only state directory)", damage: func(h *harness) {
			must(h.t, os.Remove(h.store.LockFile()))
			must(h.t, os.Mkdir(h.store.LockFile(), 0o700)) // opening it for writing fails
		}, want: "second"},
		{name: "read-only with a pending confirmation", pending: true, damage: func(h *harness) {
			must(h.t, os.Remove(h.store.LockFile()))
			must(h.t, os.Mkdir(h.store.LockFile(), 0o700))
		}, want: "first"},
		{name: "current deleted", damage: func(h *harness) {
			must(h.t, os.Remove(filepath.Join(h.store.Dir, "current")))
		}, want: "second", wantErr: "loaded the newest intact generation instead, generation 2"},
		{name: "current garbage", damage: func(h *harness) {
			must(h.t, os.WriteFile(filepath.Join(h.store.Dir, "current"), []byte("x\n"), 0o600))
		}, want: "second", wantErr: "Fix: leash rollback 2 records it as current"},
		{name: "current generation damaged: what it was is lost", damage: func(h *harness) {
			must(h.t, os.WriteFile(h.store.GenerationFile(2), []byte("{"), 0o600))
		}, want: "emergency", wantErr: "The EMERGENCY table is loaded"},
		{name: "current deleted after a revert: the revert, not what it reverted", pending: true, damage: func(h *harness) {
			h.clk.Advance(2 * time.Hour)
			if _, err := h.engine().Confirm(ctx); err == nil { // the overdue revert: generation 3
				h.t.Fatal("Confirm of an overdue generation succeeded")
			}
			must(h.t, os.Remove(filepath.Join(h.store.Dir, "current")))
		}, want: "first", wantErr: "loaded the newest intact generation instead, generation 3"},
		{name: "policy.yaml missing", damage: func(h *harness) {
			must(h.t, os.Remove(filepath.Join(filepath.Dir(h.store.GenerationFile(2)), "policy.yaml")))
		}, want: "second"},
		{name: "every generation damaged", damage: func(h *harness) {
			must(h.t, os.WriteFile(h.store.GenerationFile(1), []byte("{"), 0o600))
			must(h.t, os.WriteFile(h.store.GenerationFile(2), []byte("{"), 0o600))
		}, want: "emergency", wantErr: "The EMERGENCY table is loaded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.stillborn = true
			first, second := policyFor(t, "allow"), policyFor(t, "deny")
			if _, err := h.engine().Apply(ctx, first, ApplyOptions{}); err != nil {
				t.Fatal(err)
			}
			opt := ApplyOptions{}
			if tc.pending {
				opt.Confirm = time.Hour
			}
			if _, err := h.engine().Apply(ctx, second, opt); err != nil {
				t.Fatal(err)
			}
			tc.damage(h)
			must(t, h.k.Reset()) // the boot
			_, err := h.engine().Restore(ctx)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Restore = %v, want success", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Restore = %v, want an error with %q", err, tc.wantErr)
			}
			switch tc.want {
			case "first":
				h.kernelHolds(first)
			case "second":
				h.kernelHolds(second)
			default:
				if tbl := h.k.Table(); tbl == nil || len(tbl.Chains) == 0 {
					t.Fatalf("no emergency table:\n%s", h.k.Dump())
				}
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
