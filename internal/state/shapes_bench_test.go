package state_test

import (
	"testing"
	"time"

	"github.com/leash-dev/leash/bench/benchpolicy"
	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/state"
)

// BenchmarkRecordShapes writes (Begin: the generation record of an apply)
// and reads back (Load: what restore, rollback and status decode; CurrentMeta:
// the namespace check before them) the generation of issue 16's large
// policy files (bench/benchpolicy.Shapes), compiled once outside the timer.
func BenchmarkRecordShapes(b *testing.B) {
	for _, s := range benchpolicy.Shapes() {
		r, err := s.Load()
		if err != nil {
			b.Fatal(err)
		}
		rs := compile.Compile(r)
		src := s.YAML()
		gen := func() *state.Generation {
			return &state.Generation{Meta: state.Meta{Time: time.Unix(1, 0).UTC(), PolicyFile: "/etc/leash/policy.yaml", Action: state.ActionApply},
				Ruleset: rs, Policy: src}
		}
		b.Run(s.Name+"/write", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				st := &state.Store{Dir: b.TempDir()}
				if _, err := st.Save(gen()); err != nil {
					b.Fatal(err)
				}
			}
		})
		st := &state.Store{Dir: b.TempDir()}
		id, err := st.Save(gen())
		if err != nil {
			b.Fatal(err)
		}
		b.Run(s.Name+"/load", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := (&state.Store{Dir: st.Dir}).Load(id); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(s.Name+"/meta", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := (&state.Store{Dir: st.Dir}).CurrentMeta(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
