package state

import (
	"errors"
	"os"
	"testing"
)

// TestMetaCache: CurrentMeta decodes an unchanged generation file once,
// and a replaced or damaged one again.
func TestMetaCache(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	id, err := s.Save(&Generation{Meta: Meta{Note: "first"}, Ruleset: testRuleset()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.setCurrent(id); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if m, err := s.CurrentMeta(); err != nil || m.Note != "first" {
			t.Fatalf("CurrentMeta = %+v, %v", m, err)
		}
	}
	if len(s.head.entries) != 1 {
		t.Errorf("cache has %d entries, want 1", len(s.meta.entries))
	}
	// Damaged in place (same inode): noticed.
	if err := os.WriteFile(s.GenerationFile(id), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	var ce *CorruptError
	if _, err := s.CurrentMeta(); !errors.As(err, &ce) {
		t.Errorf("damaged generation: err = %v, want a CorruptError", err)
	}
}
