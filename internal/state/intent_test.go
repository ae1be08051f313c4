package state

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var intentTime = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// saveGenerations stores n committed generations (1..n, n current).
func saveGenerations(t *testing.T, s *Store, n int) {
	t.Helper()
	for range n {
		if _, err := s.Save(&Generation{Meta: Meta{Time: intentTime, Action: ActionApply}, Ruleset: testRuleset()}); err != nil {
			t.Fatal(err)
		}
	}
}

// begin records the intent of an apply, as a command does before it
// changes the kernel.
func begin(t *testing.T, s *Store, clearsPending bool) *Intent {
	t.Helper()
	in, err := s.Begin(&Generation{Meta: Meta{Time: intentTime, Action: ActionApply, PolicyFile: "/p/new.yaml"}, Ruleset: testRuleset()}, clearsPending)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// outcome is what a test checks after recovery.
type outcome struct {
	Outcome  Outcome
	Corrupt  bool
	Removed  []int
	Current  int // 0: none
	IDs      []int
	Pending  int // the pending generation, 0: none
	Intent   bool
	Enforced int // the generation enforced was asked about, 0: not asked
}

func observeStore(t *testing.T, s *Store, r *Recovery) outcome {
	t.Helper()
	o := outcome{}
	if r != nil {
		o.Outcome, o.Corrupt, o.Removed = r.Outcome, r.Corrupt != nil, r.Removed
	}
	cur, err := s.CurrentID()
	if err != nil && !errors.Is(err, ErrNone) {
		t.Fatal(err)
	}
	o.Current = cur
	if o.IDs, err = s.IDs(); err != nil {
		t.Fatal(err)
	}
	p, err := s.Pending()
	if err != nil {
		t.Fatal(err)
	}
	if p != nil {
		o.Pending = p.Generation
	}
	_, err = os.Stat(s.IntentFile())
	o.Intent = err == nil
	return o
}

func TestRecover(t *testing.T) {
	pending := func(gen, prev int) func(t *testing.T, s *Store) {
		return func(t *testing.T, s *Store) {
			if err := s.SetPending(&Pending{Generation: gen, Previous: prev, Deadline: intentTime, Window: "60s"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name string
		// setup prepares the store after generations 1 and 2 (current) were
		// saved, typically leaving the intent of generation 3 behind.
		setup func(t *testing.T, s *Store)
		// kernelHolds is what the kernel is said to hold: a generation, 0 for
		// another table; -1 means the kernel cannot tell (at boot).
		kernelHolds int
		want        outcome
	}{
		{
			name:        "no intent: nothing to do",
			setup:       func(t *testing.T, s *Store) {},
			kernelHolds: 2,
			want:        outcome{Current: 2, IDs: []int{1, 2}},
		},
		{
			name:        "kernel holds the new generation: roll forward",
			setup:       func(t *testing.T, s *Store) { begin(t, s, false) },
			kernelHolds: 3,
			want:        outcome{Outcome: RolledForward, Current: 3, IDs: []int{1, 2, 3}, Enforced: 3},
		},
		{
			name: "roll forward clears the pending confirmation the change replaces",
			setup: func(t *testing.T, s *Store) {
				pending(2, 1)(t, s)
				begin(t, s, true)
			},
			kernelHolds: 3,
			want:        outcome{Outcome: RolledForward, Current: 3, IDs: []int{1, 2, 3}, Enforced: 3},
		},
		{
			name: "roll forward keeps a pending confirmation the change does not replace",
			setup: func(t *testing.T, s *Store) {
				pending(2, 1)(t, s)
				begin(t, s, false)
			},
			kernelHolds: 3,
			want:        outcome{Outcome: RolledForward, Current: 3, IDs: []int{1, 2, 3}, Pending: 2, Enforced: 3},
		},
		{
			name:        "kernel holds the previous generation: roll back, the new one is removed",
			setup:       func(t *testing.T, s *Store) { begin(t, s, true) },
			kernelHolds: 2,
			want:        outcome{Outcome: RolledBack, Removed: []int{3}, Current: 2, IDs: []int{1, 2}, Enforced: 3},
		},
		{
			name:        "kernel holds something else: roll back",
			setup:       func(t *testing.T, s *Store) { begin(t, s, false) },
			kernelHolds: 0,
			want:        outcome{Outcome: RolledBack, Removed: []int{3}, Current: 2, IDs: []int{1, 2}, Enforced: 3},
		},
		{
			name:        "kernel cannot tell (boot): roll back",
			setup:       func(t *testing.T, s *Store) { begin(t, s, false) },
			kernelHolds: -1,
			want:        outcome{Outcome: RolledBack, Removed: []int{3}, Current: 2, IDs: []int{1, 2}},
		},
		{
			name: "roll back drops a confirmation of the new generation that would revert to the one in force",
			setup: func(t *testing.T, s *Store) {
				in := begin(t, s, false)
				pending(in.Generation, 2)(t, s)
			},
			kernelHolds: 2,
			want:        outcome{Outcome: RolledBack, Removed: []int{3}, Current: 2, IDs: []int{1, 2}, Enforced: 3},
		},
		{
			name: "roll back puts back the confirmation the new one replaced",
			setup: func(t *testing.T, s *Store) {
				// apply --confirm of 3 over the pending 2, killed before
				// the kernel changed: 2 is in force and unconfirmed.
				in := begin(t, s, false)
				replaced := &Pending{Generation: 2, Previous: 1, Deadline: intentTime, Window: "60s", ReverterPID: 42}
				if err := s.SetPending(&Pending{Generation: in.Generation, Previous: 1, Deadline: intentTime, Window: "60s", Replaces: replaced}); err != nil {
					t.Fatal(err)
				}
			},
			kernelHolds: 2,
			want:        outcome{Outcome: RolledBack, Removed: []int{3}, Current: 2, IDs: []int{1, 2}, Pending: 2, Enforced: 3},
		},
		{
			name: "roll forward keeps the replacing confirmation",
			setup: func(t *testing.T, s *Store) {
				in := begin(t, s, false)
				replaced := &Pending{Generation: 2, Previous: 1, Deadline: intentTime, Window: "60s"}
				if err := s.SetPending(&Pending{Generation: in.Generation, Previous: 1, Deadline: intentTime, Window: "60s", Replaces: replaced}); err != nil {
					t.Fatal(err)
				}
			},
			kernelHolds: 3,
			want:        outcome{Outcome: RolledForward, Current: 3, IDs: []int{1, 2, 3}, Pending: 3, Enforced: 3},
		},
		{
			name: "roll back keeps a record without Replaces that reverts further back (written before Replaces existed)",
			setup: func(t *testing.T, s *Store) {
				in := begin(t, s, false)
				pending(in.Generation, 1)(t, s)
			},
			kernelHolds: 2,
			want:        outcome{Outcome: RolledBack, Removed: []int{3}, Current: 2, IDs: []int{1, 2}, Pending: 3, Enforced: 3},
		},
		{
			name: "killed while writing the new generation: roll back without asking the kernel",
			setup: func(t *testing.T, s *Store) {
				in := begin(t, s, false)
				if err := os.Remove(s.GenerationFile(in.Generation)); err != nil {
					t.Fatal(err)
				}
			},
			kernelHolds: 3,
			want:        outcome{Outcome: RolledBack, Removed: []int{3}, Current: 2, IDs: []int{1, 2}},
		},
		{
			name: "killed before the new generation's directory existed",
			setup: func(t *testing.T, s *Store) {
				in := begin(t, s, false)
				if err := os.RemoveAll(filepath.Dir(s.GenerationFile(in.Generation))); err != nil {
					t.Fatal(err)
				}
			},
			kernelHolds: 2,
			want:        outcome{Outcome: RolledBack, Current: 2, IDs: []int{1, 2}},
		},
		{
			name: "killed in Commit after current was written: roll forward without asking",
			setup: func(t *testing.T, s *Store) {
				pending(2, 1)(t, s)
				in := begin(t, s, true)
				if err := s.setCurrent(in.Generation); err != nil {
					t.Fatal(err)
				}
			},
			kernelHolds: 0,
			want:        outcome{Outcome: RolledForward, Current: 3, IDs: []int{1, 2, 3}},
		},
		{
			name: "stale intent (current names another generation): roll back, committed history kept",
			setup: func(t *testing.T, s *Store) {
				begin(t, s, false)
				if err := s.setCurrent(1); err != nil {
					t.Fatal(err)
				}
			},
			kernelHolds: 3,
			want:        outcome{Outcome: RolledBack, Removed: []int{3}, Current: 1, IDs: []int{1, 2}},
		},
		{
			name: "corrupt intent: roll back, reported, uncommitted generations removed",
			setup: func(t *testing.T, s *Store) {
				begin(t, s, false)
				if err := os.WriteFile(s.IntentFile(), []byte(`{"generation": 3, "prev`), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			kernelHolds: 3,
			want:        outcome{Outcome: RolledBack, Corrupt: true, Removed: []int{3}, Current: 2, IDs: []int{1, 2}},
		},
		{
			name: "incomplete intent record: treated as corrupt",
			setup: func(t *testing.T, s *Store) {
				if err := os.WriteFile(s.IntentFile(), []byte(`{"generation": 3}`), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			kernelHolds: 3,
			want:        outcome{Outcome: RolledBack, Corrupt: true, Current: 2, IDs: []int{1, 2}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Store{Dir: t.TempDir()}
			saveGenerations(t, s, 2)
			tt.setup(t, s)
			asked := 0
			var enforced Enforced
			if tt.kernelHolds >= 0 {
				enforced = func(g *Generation) (bool, error) {
					asked = g.ID
					return g.ID == tt.kernelHolds, nil
				}
			}
			// Decide alone writes nothing.
			before := observeStore(t, s, nil)
			if _, err := s.Decide(enforced); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(before, observeStore(t, s, nil)); diff != "" {
				t.Errorf("Decide changed the store (-before +after):\n%s", diff)
			}
			r, err := s.Recover(enforced)
			if err != nil {
				t.Fatal(err)
			}
			got := observeStore(t, s, r)
			got.Enforced = asked
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("after Recover (-want +got):\n%s", diff)
			}
			if r != nil && r.Reason == "" {
				t.Error("Recovery.Reason is empty")
			}
			if r != nil && r.Outcome == RolledForward && (r.Generation == nil || r.Generation.ID != got.Current) {
				t.Errorf("rolled forward, Recovery.Generation = %+v, want generation %d", r.Generation, got.Current)
			}
			// Recovery is done: a second one finds nothing, and a new change
			// can begin and gets the next number.
			if r, err := s.Recover(enforced); r != nil || err != nil {
				t.Errorf("second Recover = %+v, %v; want nil, nil", r, err)
			}
			in := begin(t, s, false)
			if want := got.IDs[len(got.IDs)-1] + 1; in.Generation != want {
				t.Errorf("next Begin got generation %d, want %d", in.Generation, want)
			}
		})
	}
}

func TestBeginCommitAbort(t *testing.T) {
	tests := []struct {
		name   string
		commit bool
		want   outcome
	}{
		{name: "commit", commit: true, want: outcome{Current: 3, IDs: []int{1, 2, 3}}},
		{name: "abort (the kernel refused)", commit: false, want: outcome{Current: 2, IDs: []int{1, 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Store{Dir: t.TempDir()}
			saveGenerations(t, s, 2)
			in := begin(t, s, true)
			wantIntent := &Intent{Format: Format, Generation: 3, Previous: 2, Action: ActionApply, Time: intentTime, ClearsPending: true}
			if diff := cmp.Diff(wantIntent, in); diff != "" {
				t.Errorf("Begin (-want +got):\n%s", diff)
			}
			got, err := s.Intent()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(wantIntent, got); diff != "" {
				t.Errorf("Intent() read back (-want +got):\n%s", diff)
			}
			// Between the phases the generation is complete, the intent
			// recorded, and the old generation still current.
			if g, err := s.Load(3); err != nil || g.PolicyFile != "/p/new.yaml" {
				t.Errorf("Load(3) between the phases = %+v, %v", g, err)
			}
			if cur, _ := s.CurrentID(); cur != 2 {
				t.Errorf("current between the phases = %d, want 2", cur)
			}
			if _, err := s.Begin(&Generation{}, false); err == nil {
				t.Error("a second Begin while an intent is recorded succeeded")
			}
			if tt.commit {
				err = s.Commit(in)
			} else {
				err = s.Abort(in)
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, observeStore(t, s, nil)); diff != "" {
				t.Errorf("after (-want +got):\n%s", diff)
			}
		})
	}
}

// The first change ever: no current generation before it.
func TestRecoverFirstChange(t *testing.T) {
	for _, holds := range []bool{true, false} {
		s := &Store{Dir: t.TempDir()}
		in := begin(t, s, false)
		if in.Previous != 0 || in.Generation != 1 {
			t.Fatalf("first Begin = %+v, want generation 1, previous 0", in)
		}
		r, err := s.Recover(func(*Generation) (bool, error) { return holds, nil })
		if err != nil {
			t.Fatal(err)
		}
		want := outcome{Outcome: RolledBack, Removed: []int{1}}
		if holds {
			want = outcome{Outcome: RolledForward, Current: 1, IDs: []int{1}}
		}
		if diff := cmp.Diff(want, observeStore(t, s, r)); diff != "" {
			t.Errorf("kernel holds it %v (-want +got):\n%s", holds, diff)
		}
	}
}

// When the kernel cannot be read, nothing is decided and nothing written.
func TestRecoverEnforcedError(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	saveGenerations(t, s, 1)
	begin(t, s, false)
	boom := errors.New("netlink: boom")
	if _, err := s.Recover(func(*Generation) (bool, error) { return false, boom }); !errors.Is(err, boom) {
		t.Fatalf("Recover: err = %v, want %v", err, boom)
	}
	want := outcome{Current: 1, IDs: []int{1, 2}, Intent: true}
	if diff := cmp.Diff(want, observeStore(t, s, nil)); diff != "" {
		t.Errorf("after a failed Recover (-want +got):\n%s", diff)
	}
}

// Prune keeps the generations an unresolved intent names, and removes
// nothing while the intent record is unreadable.
func TestPruneIntent(t *testing.T) {
	s := &Store{Dir: t.TempDir(), Keep: 1}
	saveGenerations(t, s, 3)
	begin(t, s, false)
	if _, err := s.Prune(); err != nil {
		t.Fatal(err)
	}
	if ids, _ := s.IDs(); !cmp.Equal(ids, []int{3, 4}) {
		t.Errorf("IDs after Prune with an intent = %v, want [3 4]", ids)
	}
	if err := os.WriteFile(s.IntentFile(), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prune(); err == nil {
		t.Error("Prune with a corrupt intent succeeded, want an error")
	}
}
