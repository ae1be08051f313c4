package state

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/leash-dev/leash/internal/ruleset"
)

func testRuleset() *ruleset.Ruleset {
	return &ruleset.Ruleset{Chains: []*ruleset.Chain{{Name: "output", Hook: &ruleset.Hook{Hook: "output"}}}}
}

func TestSaveCurrentLoad(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	if _, err := s.Current(); !errors.Is(err, ErrNone) {
		t.Fatalf("Current on empty store: err = %v, want ErrNone", err)
	}
	for want := 1; want <= 3; want++ {
		g := &Generation{Meta: Meta{Time: time.Unix(int64(want), 0).UTC(), PolicyFile: "/etc/leash/policy.yaml", Action: ActionApply, Summary: "1 policies"},
			Ruleset: testRuleset(), Policy: []byte("version: 1\n")}
		next, err := s.NextID()
		if err != nil {
			t.Fatal(err)
		}
		id, err := s.Save(g)
		if err != nil {
			t.Fatal(err)
		}
		if id != want || next != want {
			t.Errorf("Save #%d returned id %d, NextID said %d", want, id, next)
		}
		got, err := s.Current()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(g, got); diff != "" {
			t.Errorf("Current() after save %d (-want +got):\n%s", want, diff)
		}
	}
}

// A generation without a ruleset (after reset) round-trips as nil.
func TestNoTableGeneration(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	id, err := s.Save(&Generation{Meta: Meta{Action: ActionReset, Note: "reset"}})
	if err != nil {
		t.Fatal(err)
	}
	g, err := s.Load(id)
	if err != nil {
		t.Fatal(err)
	}
	if g.Ruleset != nil {
		t.Errorf("Ruleset = %+v, want nil", g.Ruleset)
	}
}

func TestCorrupt(t *testing.T) {
	tests := []struct {
		name     string
		damage   func(dir string) error
		wantFile string // relative to the state dir; "" means ErrNone
	}{
		{name: "no state", damage: func(dir string) error { return os.RemoveAll(dir) }},
		{name: "current garbage", damage: func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "current"), []byte("two\n"), 0o600)
		}, wantFile: "current"},
		{name: "current names missing generation", damage: func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "current"), []byte("7\n"), 0o600)
		}, wantFile: "current"},
		{name: "truncated generation.json", damage: func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "generations/000002/generation.json"), []byte(`{"id": 2, "rules`), 0o600)
		}, wantFile: "generations/000002/generation.json"},
		{name: "generation.json of another generation", damage: func(dir string) error {
			b, err := os.ReadFile(filepath.Join(dir, "generations/000001/generation.json"))
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, "generations/000002/generation.json"), b, 0o600)
		}, wantFile: "generations/000002/generation.json"},
		{name: "policy.yaml unreadable", damage: func(dir string) error {
			p := filepath.Join(dir, "generations/000002/policy.yaml")
			if err := os.Remove(p); err != nil {
				return err
			}
			return os.Mkdir(p, 0o700)
		}, wantFile: "generations/000002/policy.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Store{Dir: filepath.Join(t.TempDir(), "state")}
			for range 2 {
				if _, err := s.Save(&Generation{Ruleset: testRuleset()}); err != nil {
					t.Fatal(err)
				}
			}
			if err := tt.damage(s.Dir); err != nil {
				t.Fatal(err)
			}
			_, err := s.Current()
			if tt.wantFile == "" {
				if !errors.Is(err, ErrNone) {
					t.Fatalf("Current: err = %v, want ErrNone", err)
				}
				return
			}
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("Current: err = %v, want a *CorruptError", err)
			}
			if want := filepath.Join(s.Dir, tt.wantFile); ce.Path != want {
				t.Errorf("CorruptError.Path = %s, want %s", ce.Path, want)
			}
		})
	}
}

func TestLoadMissing(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	if _, err := s.Load(3); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(3) on empty store: err = %v, want ErrNotExist", err)
	}
}

func TestHistory(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	saves := []Meta{
		{PolicyFile: "/p/a.yaml", Action: ActionApply, Summary: "a"},
		{PolicyFile: "/p/b.yaml", Action: ActionApply, Summary: "b"},
		{PolicyFile: "/p/a.yaml", Action: ActionRollback, Source: 1, Note: "rollback to 1", Summary: "a"},
	}
	for _, m := range saves {
		if _, err := s.Save(&Generation{Meta: m, Ruleset: testRuleset()}); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(s.GenerationFile(2), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := s.History()
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{Meta: Meta{Format: Format, ID: 1, PolicyFile: "/p/a.yaml", Action: ActionApply, Summary: "a"}},
		{Meta: Meta{ID: 2}, Err: &CorruptError{Path: s.GenerationFile(2)}},
		{Meta: Meta{Format: Format, ID: 3, PolicyFile: "/p/a.yaml", Action: ActionRollback, Source: 1, Note: "rollback to 1", Summary: "a"}},
	}
	opt := cmp.Comparer(func(a, b error) bool { // same kind of error, same file
		var ca, cb *CorruptError
		if errors.As(a, &ca) && errors.As(b, &cb) {
			return ca.Path == cb.Path
		}
		return a == nil && b == nil
	})
	if diff := cmp.Diff(want, got, opt); diff != "" {
		t.Errorf("History (-want +got):\n%s", diff)
	}
}

func TestPending(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	if p, err := s.Pending(); p != nil || err != nil {
		t.Fatalf("Pending on empty store = %v, %v; want nil, nil", p, err)
	}
	want := &Pending{Generation: 4, Previous: 2, Deadline: time.Date(2026, 11, 21, 12, 1, 0, 0, time.UTC), Window: "60s", ReverterPID: 99,
		Replaces: &Pending{Generation: 3, Previous: 2, Deadline: time.Date(2026, 11, 21, 12, 0, 30, 0, time.UTC), Window: "60s", ReverterPID: 98}}
	if err := s.SetPending(want); err != nil {
		t.Fatal(err)
	}
	got, err := s.Pending()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Pending (-want +got):\n%s", diff)
	}
	for range 2 { // idempotent
		if err := s.ClearPending(); err != nil {
			t.Fatal(err)
		}
	}
	if p, err := s.Pending(); p != nil || err != nil {
		t.Errorf("Pending after clear = %v, %v; want nil, nil", p, err)
	}
	for _, bad := range []string{"{", `{"generation": 0, "deadline": "2026-11-21T12:00:00Z"}`, `{"generation": 3}`,
		`{"generation": 3, "deadline": "2026-11-21T12:00:00Z", "replaces": {"generation": 2}}`} {
		if err := os.WriteFile(s.PendingFile(), []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		var ce *CorruptError
		if _, err := s.Pending(); !errors.As(err, &ce) || ce.Path != s.PendingFile() {
			t.Errorf("Pending with %q: err = %v, want *CorruptError for %s", bad, err, s.PendingFile())
		}
	}
}

func TestPendingAwaits(t *testing.T) {
	replacing := &Pending{Generation: 5, Previous: 2, Replaces: &Pending{Generation: 4, Previous: 2}}
	tests := []struct {
		name string
		p    *Pending
		gen  int
		want bool
	}{
		{name: "no record", p: nil, gen: 4, want: false},
		{name: "names it", p: &Pending{Generation: 4, Previous: 2}, gen: 4, want: true},
		{name: "names another", p: &Pending{Generation: 5, Previous: 2}, gen: 4, want: false},
		{name: "replaced it: may fall back to it", p: replacing, gen: 4, want: true},
		{name: "replacing record, its own generation", p: replacing, gen: 5, want: true},
		{name: "replacing record, an older generation", p: replacing, gen: 3, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Awaits(tt.gen); got != tt.want {
				t.Errorf("Awaits(%d) = %v, want %v", tt.gen, got, tt.want)
			}
		})
	}
}

func TestPrune(t *testing.T) {
	tests := []struct {
		name    string
		saves   int
		keep    int
		pending *Pending
		current int // 0: the newest
		want    []int
	}{
		{name: "under the limit", saves: 3, keep: 5, want: []int{1, 2, 3}},
		{name: "newest kept", saves: 6, keep: 3, want: []int{4, 5, 6}},
		{name: "pending and its previous kept", saves: 8, keep: 3,
			pending: &Pending{Generation: 2, Previous: 1, Deadline: time.Unix(1, 0)}, want: []int{1, 2, 6, 7, 8}},
		{name: "no previous", saves: 5, keep: 2,
			pending: &Pending{Generation: 5, Previous: 0, Deadline: time.Unix(1, 0)}, want: []int{4, 5}},
		{name: "current kept", saves: 6, keep: 2, current: 3, want: []int{3, 5, 6}},
		{name: "default keeps 50", saves: 53, want: func() (ids []int) {
			for i := 4; i <= 53; i++ {
				ids = append(ids, i)
			}
			return ids
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Store{Dir: t.TempDir(), Keep: tt.keep}
			for range tt.saves {
				if _, err := s.Save(&Generation{Ruleset: testRuleset()}); err != nil {
					t.Fatal(err)
				}
			}
			if tt.pending != nil {
				if err := s.SetPending(tt.pending); err != nil {
					t.Fatal(err)
				}
			}
			if tt.current != 0 {
				if err := s.writeAtomic(s.currentPath(), []byte{byte('0' + tt.current), '\n'}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.Prune(); err != nil {
				t.Fatal(err)
			}
			got, err := s.IDs()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("IDs after Prune (-want +got):\n%s", diff)
			}
		})
	}
}

// Prune removes nothing when it cannot tell which generations are needed.
func TestPruneCorruptPending(t *testing.T) {
	s := &Store{Dir: t.TempDir(), Keep: 1}
	for range 3 {
		if _, err := s.Save(&Generation{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(s.PendingFile(), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prune(); err == nil {
		t.Error("Prune with a corrupt pending record succeeded, want an error")
	}
	if ids, _ := s.IDs(); len(ids) != 3 {
		t.Errorf("IDs after refused Prune = %v, want all 3", ids)
	}
}

// TestFormat: records say their format; a newer format is refused as
// unusable, naming the file and what to do, an older one (0: before
// formats were recorded) is read.
func TestFormat(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	id, err := s.Save(&Generation{Meta: Meta{Time: time.Unix(0, 0).UTC()}, Ruleset: testRuleset()})
	if err != nil {
		t.Fatal(err)
	}
	g, err := s.Load(id)
	if err != nil || g.Format != Format {
		t.Fatalf("Load = %+v, %v; want format %d", g, err, Format)
	}
	if err := s.SetPending(&Pending{Generation: id, Deadline: time.Unix(1, 0)}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		path string
		read func() error
	}{
		{name: "generation", path: s.GenerationFile(id), read: func() error { _, err := s.Load(id); return err }},
		{name: "pending", path: s.PendingFile(), read: func() error { _, err := s.Pending(); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := os.ReadFile(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			newer := strings.Replace(string(b), fmt.Sprintf(`"format": %d`, Format), fmt.Sprintf(`"format": %d`, Format+1), 1)
			if newer == string(b) {
				t.Fatalf("%s does not record its format:\n%s", tc.path, b)
			}
			if err := os.WriteFile(tc.path, []byte(newer), 0o600); err != nil {
				t.Fatal(err)
			}
			var ce *CorruptError
			if err := tc.read(); !errors.As(err, &ce) || !strings.Contains(err.Error(), "written by a newer leash") {
				t.Errorf("read of a newer format = %v, want it refused", err)
			}
			old := strings.Replace(string(b), fmt.Sprintf(`"format": %d,`, Format), "", 1)
			if err := os.WriteFile(tc.path, []byte(old), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := tc.read(); err != nil {
				t.Errorf("read of a record without a format = %v, want it read", err)
			}
		})
	}
}

// TestPolicyMissing: a generation whose policy.yaml is gone still loads:
// its ruleset is what restore and rollback need.
func TestPolicyMissing(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	id, err := s.Save(&Generation{Ruleset: testRuleset(), Policy: []byte("version: 1\n")})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(s.Dir, "generations/000001/policy.yaml")); err != nil {
		t.Fatal(err)
	}
	g, err := s.Load(id)
	if err != nil || !g.PolicyMissing || g.Policy != nil || g.Ruleset == nil {
		t.Fatalf("Load = %+v, %v; want the ruleset, PolicyMissing", g, err)
	}
}

// TestLargeGeneration: a generation larger than the 64 MiB cap on
// user-supplied files still reads whole (the state is leash's own).
func TestLargeGeneration(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 70 MB")
	}
	s := &Store{Dir: t.TempDir()}
	rs := testRuleset()
	id, err := s.Save(&Generation{Ruleset: rs, Policy: bytes.Repeat([]byte("# padding\n"), 7<<20)})
	if err != nil {
		t.Fatal(err)
	}
	g, err := s.Load(id)
	if err != nil {
		t.Fatalf("Load of a 70 MB generation: %v", err)
	}
	if len(g.Policy) != 70<<20 {
		t.Errorf("policy.yaml read as %d bytes, want %d", len(g.Policy), 70<<20)
	}
}
