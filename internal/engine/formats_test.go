package engine

import (
	"context"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/leash-dev/leash/internal/clock"
	"github.com/leash-dev/leash/internal/drift"
	"github.com/leash-dev/leash/internal/nft"
	"github.com/leash-dev/leash/internal/policy/policytest"
	"github.com/leash-dev/leash/internal/state"
)

// writeFixture makes testdata/formats/NAME from this leash's record
// format: `go test -run TestStoredFormats -write-format NAME` (use the
// format number: "format1"). Existing fixtures are never rewritten: they are
// what older leash versions left on disk.
var writeFormat = flag.String("write-format", "", "write a state directory fixture of today's record format into testdata/formats/NAME")

// fixturePolicies are the policies of a fixture: generation 1 is applied
// and confirmed, generation 2 is applied with a confirmation window (so a
// restore reverts it).
var fixturePolicies = []string{"../../examples/combined.yaml", "../../examples/offline-user.yaml"}

func compileExample(t *testing.T, path string) *Compiled {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Compile(context.Background(), policytest.Env(policytest.DefaultIDs), filepath.Base(path), src)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestStoredFormats restores every state directory fixture that a leash of
// an earlier record format wrote, and proves that today's leash loads the
// same table from it: a model or format change can never turn an upgrade's
// first boot into the emergency table.
func TestStoredFormats(t *testing.T) {
	if *writeFormat != "" {
		writeFormatFixture(t, filepath.Join("testdata", "formats", *writeFormat))
	}
	dirs, err := filepath.Glob(filepath.Join("testdata", "formats", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no fixtures in testdata/formats (%v)", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			h := newHarness(t)
			copyDir(t, filepath.Join(dir, "state"), h.store.Dir)
			res, err := h.engine().Restore(ctx)
			if err != nil || res.Reverted == nil || res.Reverted.Generation != 2 {
				t.Fatalf("Restore = %+v, %v; want generation 2's confirmation reverted", res, err)
			}
			want, err := os.ReadFile(filepath.Join(dir, "kernel.nft"))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), h.k.Dump()); diff != "" {
				t.Errorf("restored table differs from the one the fixture's leash loaded (-want +got):\n%s", diff)
			}
			st, err := h.engine().Status()
			if err != nil || st.State != drift.InSync {
				t.Errorf("status after restore = %+v, %v; want in sync", st, err)
			}
			if _, err := h.engine().Rollback(ctx, 2); err != nil {
				t.Errorf("rollback to the fixture's generation 2: %v", err)
			}
		})
	}
}

// writeFormatFixture records the fixture policies with today's code, and
// the table a restore of it loads.
func writeFormatFixture(t *testing.T, dir string) {
	if _, err := os.Stat(dir); err == nil {
		t.Fatalf("%s exists: fixtures of released formats are never rewritten", dir)
	}
	k := nft.NewFake()
	e := &Engine{
		Store:         &state.Store{Dir: filepath.Join(dir, "state")},
		OpenKernel:    func() (Kernel, error) { return k, nil },
		Clock:         clock.NewFake(t0),
		StartReverter: func(*state.Pending) (int, error) { return 4242, nil },
		LockTimeout:   time.Second,
	}
	if _, err := e.Apply(ctx, compileExample(t, fixturePolicies[0]), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	want := k.Dump()
	if _, err := e.Apply(ctx, compileExample(t, fixturePolicies[1]), ApplyOptions{Confirm: time.Hour}); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "state", "lock"))
	if err := os.WriteFile(filepath.Join(dir, "kernel.nft"), []byte(want), 0o644); err != nil {
		t.Fatal(err)
	}
}

// copyDir copies the regular files under src to dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}
