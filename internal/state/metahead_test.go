package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestDecodeHead: the head of a generation record decodes to the Meta that
// decoding the whole record gives, and the ruleset is not read.
func TestDecodeHead(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	g := &Generation{Meta: Meta{Time: time.Unix(5, 0).UTC(), PolicyFile: "/etc/leash/p.yaml", Action: ActionRollback, Source: 2,
		Note: "rollback to 2", Summary: "1 policies", NetNS: &Namespace{Name: "ns", Inode: 7}},
		Ruleset: testRuleset(), Hosts: map[string][]string{"a.example": {"192.0.2.1"}}}
	id, err := s.Save(g)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(s.GenerationFile(id))
	if err != nil {
		t.Fatal(err)
	}
	var want Meta
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	for name, src := range map[string][]byte{
		"whole":            b,
		"cut in ruleset":   b[:bytes.Index(b, []byte(`"chains"`))],
		"without ruleset":  []byte(`{"format": 1, "id": 1, "note": "x"}`),
		"null ruleset":     []byte(`{"id": 1, "ruleset": null, "note": "after"}`),
		"meta keys in any": []byte(`{"ID": 3, "Note": "case"}`),
	} {
		t.Run(name, func(t *testing.T) {
			var full Meta
			if json.Unmarshal(src, &full) != nil {
				full = want // cut: what the whole file says
			}
			if name == "null ruleset" {
				full.Note = "" // keys after the ruleset are not read
			}
			got, err := decodeHead(bytes.NewReader(src))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(full, got); diff != "" {
				t.Errorf("decodeHead (-want +got):\n%s", diff)
			}
		})
	}
	for _, bad := range []string{"", "{", `{"id": 1,`, `{"id": "one"}`, "[1]", "{not json"} {
		if _, err := decodeHead(bytes.NewReader([]byte(bad))); err == nil {
			t.Errorf("decodeHead(%q) = nil error", bad)
		}
	}
	// CurrentMeta reports a damaged head as the CorruptError Current gives.
	if err := os.WriteFile(s.GenerationFile(id), []byte(`{"id": 1,`), 0o600); err != nil {
		t.Fatal(err)
	}
	var ce *CorruptError
	if _, err := s.CurrentMeta(); !errors.As(err, &ce) {
		t.Errorf("CurrentMeta of a damaged head: %v, want a CorruptError", err)
	}
}
