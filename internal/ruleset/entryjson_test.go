package ruleset

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// plainEntry is MapEntry decoded by encoding/json alone.
type plainEntry MapEntry

// TestMapEntryJSON: MapEntry.UnmarshalJSON gives what encoding/json gives
// without it, for entries as json.Marshal writes them (indented or not)
// and for hand-edited or damaged ones.
func TestMapEntryJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var inputs []string
	for range 500 {
		e := randomEntry(r)
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if d := (entryDecoder{b: b}); !readsAll(&d) {
			t.Fatalf("the fast decoder declines %s", b)
		}
		ind, _ := json.MarshalIndent(e, "", "  ")
		inputs = append(inputs, string(b), string(ind))
		// Edits: each replacement where it applies.
		for _, ed := range [][2]string{
			{`"lo":`, `"Lo":`}, {`"values":`, `"VALUES":`}, {`"rule":"`, `"rule":"\u00e9`}, {`"chain":"`, `"chain":"\\"`},
			{`"hi":`, `"hi":-`}, {`"hi":`, `"hi":0`}, {`"hi":`, `"hi":4294967296`}, {`"hi":`, `"hi":1e`}, {`"lo":`, `"lo":null,"x":`},
			{`"values":[`, `"values":null,"y":[`}, {`"prefix":"`, `"prefix":"x`}, {`"prefix":"`, `"prefix":"","p":"`},
			{`{`, `{"extra":1,`}, {`"verdict":"`, `"verdict":1,"v":"`}, {`}`, `,"lo":7}`}, {`"packets":`, `"packets":18446744073709551616,"q":`},
		} {
			if strings.Contains(string(b), ed[0]) {
				inputs = append(inputs, strings.Replace(string(b), ed[0], ed[1], 1))
			}
		}
	}
	inputs = append(inputs, `{}`, `null`, `{"values":[]}`, `{"values":[{}]}`, `{"lo":1,"lo":2}`, `[1]`, `"x"`, `{"text":"a"}`)
	for _, in := range inputs {
		var got MapEntry
		var want plainEntry
		gerr := json.Unmarshal([]byte(in), &got)
		werr := json.Unmarshal([]byte(in), &want)
		if (gerr == nil) != (werr == nil) {
			t.Fatalf("%s: error %v, want %v", in, gerr, werr)
		}
		if diff := cmp.Diff(MapEntry(want), got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
			t.Fatalf("%s: (-encoding/json +UnmarshalJSON):\n%s", in, diff)
		}
	}
	// In a list, into a slice that had entries: as encoding/json.
	var got []MapEntry
	var want []plainEntry
	for _, in := range []string{`[{"lo":1,"chain":"a"},{"hi":2}]`, `[{"lo":3}]`} {
		if err := json.Unmarshal([]byte(in), &got); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(fmt.Sprint(want), fmt.Sprint(got)); diff != "" {
		t.Errorf("reused slice (-encoding/json +UnmarshalJSON):\n%s", diff)
	}
}

// randomEntry is an entry with any of the fields set.
func randomEntry(r *rand.Rand) MapEntry {
	var e MapEntry
	if r.IntN(2) == 0 {
		e.Lo, e.Hi = r.Uint32N(70000), r.Uint32()
	}
	for range r.IntN(4) {
		var v KeyValue
		switch r.IntN(4) {
		case 0:
			v.Prefix = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(r.IntN(256)), 0, 2, 0}), 24+r.IntN(9))
		case 1:
			v.Prefix = netip.MustParsePrefix("fd00::1/128")
		case 2:
			v.Text = "eth" + fmt.Sprint(r.IntN(9))
		}
		v.Lo, v.Hi = r.Uint32N(65536), r.Uint32N(65536)
		e.Values = append(e.Values, v)
	}
	switch r.IntN(3) {
	case 0:
		e.Chain = "p_x.r" + fmt.Sprint(r.IntN(1000))
	case 1:
		e.Verdict, e.Rule = Accept, "p0/r"+fmt.Sprint(r.IntN(1000))
	}
	if r.IntN(3) == 0 {
		e.Packets, e.Bytes = r.Uint64(), r.Uint64N(1<<40)
	}
	return e
}

// readsAll reports whether d reads an entry from all of its input.
func readsAll(d *entryDecoder) bool {
	_, ok := d.entry()
	return ok && d.i == len(d.b)
}
