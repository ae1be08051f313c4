package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestMarshalIndent: marshalRecord writes json.MarshalIndent's bytes, for
// the stored format fixtures and for random values (all below maxIndented).
func TestMarshalIndent(t *testing.T) {
	var values []any
	files, _ := filepath.Glob("../engine/testdata/formats/*/state/generations/*/generation.json")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var g Generation
		if err := json.Unmarshal(b, &g); err != nil {
			t.Fatal(err)
		}
		var raw any
		if err := json.Unmarshal(b, &raw); err != nil {
			t.Fatal(err)
		}
		values = append(values, &g, raw)
	}
	if len(files) == 0 {
		t.Fatal("no format fixtures found")
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		values = append(values, randomJSON(r, 4))
	}
	values = append(values, map[string]any{}, []any{}, "a\"b\\c\u2028<&>", nil, 1.5e300, []any{[]any{}, map[string]any{"": []any{}}})
	for _, v := range values {
		want, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		got, err := marshalRecord(v)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("marshalRecord(%v) =\n%s\nwant\n%s", v, got, want)
		}
	}
}

// TestLargeRecordCompact: a record beyond maxIndented is written compact
// and reads back the same, head included.
func TestLargeRecordCompact(t *testing.T) {
	big := make([]any, 0, maxIndented/4) // about 1.8 MB compact
	for i := range cap(big) {
		big = append(big, i)
	}
	v := map[string]any{"id": 7, "policy_file": "p.yaml", "ruleset": map[string]any{"big": big}}
	b, err := marshalRecord(v)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(v)
	if !bytes.Equal(b, want) {
		t.Fatalf("a large record is not json.Marshal's compact encoding (%d bytes, want %d)", len(b), len(want))
	}
	m, err := decodeHead(bytes.NewReader(b))
	if err != nil || m.ID != 7 || m.PolicyFile != "p.yaml" {
		t.Fatalf("head of a compact record = %+v, %v", m, err)
	}
}

// randomJSON is a random JSON value nested at most depth deep.
func randomJSON(r *rand.Rand, depth int) any {
	switch k := r.IntN(8); {
	case depth == 0 || k < 3:
		switch r.IntN(5) {
		case 0:
			return nil
		case 1:
			return r.IntN(2) == 0
		case 2:
			return r.NormFloat64() * 1e6
		case 3:
			return -r.Int64()
		}
		return randomString(r)
	case k < 5:
		a := make([]any, r.IntN(4))
		for i := range a {
			a[i] = randomJSON(r, depth-1)
		}
		return a
	default:
		m := map[string]any{}
		for range r.IntN(4) {
			m[randomString(r)] = randomJSON(r, depth-1)
		}
		return m
	}
}

// randomString is a short string of characters JSON escapes or not.
func randomString(r *rand.Rand) string {
	chars := []rune("a\"\\/\n\t:,{}[] é\u0001\u2028<")
	var s strings.Builder
	for range r.IntN(8) {
		s.WriteRune(chars[r.IntN(len(chars))])
	}
	return s.String()
}

// TestSqueeze: a squeezed input decodes to what the input decodes to, or
// fails too, for indented values and for damaged ones.
func TestSqueeze(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	inputs := []string{"", " ", "1 2", `{"a" : 1 , "b":[ 1 , 2 ] } `, `[tr ue]`, `{"a": "x y \" z"}`, "[1,\n]", `"\\" ,`, `{"a":1}}`, "\t[\r\n]\n", `["a\\\" b" ]`}
	for range 3000 {
		b, err := json.MarshalIndent(randomJSON(r, 4), "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, string(b))
		// Damage: a byte replaced, removed or cut.
		if len(b) > 1 {
			i := r.IntN(len(b))
			d := []byte(string(b))
			const bytes = " \"\\{}[],:1a\n"
			d[i] = bytes[r.IntN(len(bytes))]
			inputs = append(inputs, string(d), string(b[:i])+string(b[i+1:]), string(b[:i]))
		}
	}
	for _, in := range inputs {
		var want, got any
		werr := json.Unmarshal([]byte(in), &want)
		gerr := json.Unmarshal(squeeze([]byte(in)), &got) // a copy: squeezed in place
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("squeeze(%q): error %v, want %v", in, gerr, werr)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("squeeze(%q) decodes differently (-want +got):\n%s", in, diff)
		}
	}
}

// TestLoadMalformedMessage: a malformed generation record is reported with
// the message of the file as written, not of its squeezed form.
func TestLoadMalformedMessage(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	id, err := s.Save(&Generation{Ruleset: testRuleset()})
	if err != nil {
		t.Fatal(err)
	}
	bad := []byte("{\n  \"id\": 1,\n  \"note\": nul\n}\n")
	if err := os.WriteFile(s.GenerationFile(id), bad, 0o600); err != nil {
		t.Fatal(err)
	}
	want := json.Unmarshal(bad, &Generation{})
	_, err = s.Load(id)
	var ce *CorruptError
	if !errors.As(err, &ce) || want == nil || ce.Err.Error() != want.Error() {
		t.Errorf("Load = %v, want a CorruptError saying %v", err, want)
	}
	if h, _ := s.History(); len(h) != 1 || h[0].Err == nil || !strings.Contains(h[0].Err.Error(), want.Error()) {
		t.Errorf("History = %+v, want the error %v", h, want)
	}
}
