package state

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMarshalIndent: marshalIndent writes json.MarshalIndent's bytes, for
// the stored format fixtures and for random values.
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
		got, err := marshalIndent(v)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("marshalIndent(%v) =\n%s\nwant\n%s", v, got, want)
		}
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
