package policy

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Bounds every malformed input must be refused within, even on a loaded CI
// machine: a hostile file must not stall apply or exhaust memory.
const (
	malformedMaxTime  = 5 * time.Second
	malformedMaxAlloc = 512 << 20
)

// bigInputs are malformed files too large to commit, generated here. Each
// is judged like a testdata/bad file, and its first error is given.
func bigInputs() []struct{ name, src, wantFirst string } {
	var cidrs strings.Builder
	cidrs.WriteString("version: 1\ndestinations:\n  big:\n")
	for i := range 100_000 {
		fmt.Fprintf(&cidrs, "    - 10.%d.%d.0/24\n", i/256%256, i%256)
	}
	cidrs.WriteString("    - 10.0.0.0/33\npolicies:\n  - name: web\n    users: [alice]\n    rules:\n      - deny: {to: [big]}\n    default: allow\n")

	var keys strings.Builder
	for i := range 100_000 {
		fmt.Fprintf(&keys, "k%d: x\n", i)
	}
	var lists strings.Builder
	lists.WriteString("version: 1\ndestinations:\n")
	for i := range 5000 {
		fmt.Fprintf(&lists, "  l%d: [10.0.0.%d]\n", i, i%256)
	}
	var junk bytes.Buffer
	for i := range 1 << 20 {
		junk.WriteByte(byte(i*7919 + i>>8))
	}
	return []struct{ name, src, wantFirst string }{
		{"100k-lines.yaml", cidrs.String(),
			`100k-lines.yaml:100004:7: "10.0.0.0/33" is not a valid CIDR (prefix length out of range); write e.g. 10.0.0.0/8 or fd00::/8`},
		{"100k-keys.yaml", keys.String(),
			`100k-keys.yaml:1001:1: more than 1000 keys in one mapping; leash reads at most 1000 (a policy has a handful: version, policies, ...; merge destination lists or hosts)`},
		{"5000-lists.yaml", lists.String(),
			`5000-lists.yaml:1003:3: more than 1000 keys in one mapping; leash reads at most 1000 (a policy has a handful: version, policies, ...; merge destination lists or hosts)`},
		{"deep-flow.yaml", "version: 1\npolicies: " + strings.Repeat("[", 100_000) + "\n",
			`deep-flow.yaml:2:75: [ and { are nested more than 64 deep; a policy needs a few levels at most`},
		{"deep-flow-maps.yaml", "version: 1\npolicies: " + strings.Repeat("{a: ", 100_000) + "\n",
			`deep-flow-maps.yaml:2:267: [ and { are nested more than 64 deep; a policy needs a few levels at most`},
		{"deep-block.yaml", "version: 1\nbaseline:\n" + deepBlock(3000),
			`deep-block.yaml:1:1: missing required key "policies"; add a list of policies`},
		{"long-line.yaml", "version: 1\npolicies: [" + strings.Repeat("x", 1<<20) + "]\n",
			`long-line.yaml:2:12: policy #1 must be a mapping (key: value); got the string "` + strings.Repeat("x", 1<<20) + `"`},
		{"junk.bin", junk.String(), "junk.bin:1:2: the file is not valid UTF-8; save it as UTF-8"},
		{"alias-bomb-wide.yaml", aliasBomb(20, 30),
			`alias-bomb-wide.yaml:3:7: YAML anchors (&name) are not supported; use a destination list or write the value out`},
	}
}

// deepBlock is a block mapping nested n levels deep.
func deepBlock(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(strings.Repeat(" ", i+1) + "k:\n")
	}
	return b.String()
}

// aliasBomb is a billion-laughs file: levels anchors, each a list of width
// aliases of the previous one, the last one used in a rule.
func aliasBomb(levels, width int) string {
	var b strings.Builder
	b.WriteString("version: 1\ndestinations:\n  l0: &l0 [10.0.0.1]\n")
	for i := 1; i < levels; i++ {
		fmt.Fprintf(&b, "  l%d: &l%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), width), ", "))
	}
	fmt.Fprintf(&b, "policies:\n  - name: web\n    users: [alice]\n    rules:\n      - deny: {to: *l%d}\n    default: allow\n", levels-1)
	return b.String()
}

// errorLine is how every line of a policy ErrorList looks.
var errorLine = regexp.MustCompile(`^[^:\n]+:[1-9]\d*:[1-9]\d*: \S`)

// TestMalformed loads every testdata/bad file and every generated big input
// and checks the invariants the CLI and editors rely on: the error is a
// non-empty ErrorList, every entry is at a position inside the file and
// renders on one line as FILE:LINE:COL: message, and the load is fast and
// bounded in memory.
func TestMalformed(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad files: %v", err)
	}
	type input struct{ name, src, wantFirst string }
	var inputs []input
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, input{name: filepath.Base(f), src: string(src)})
	}
	for _, b := range bigInputs() {
		inputs = append(inputs, input(b))
	}
	for _, in := range inputs {
		t.Run(in.name, func(t *testing.T) {
			list, elapsed, alloc := loadMeasured(t, in.name, []byte(in.src))
			t.Logf("%d bytes: %d errors in %v, %d MiB allocated", len(in.src), len(list), elapsed.Round(time.Millisecond), alloc>>20)
			if elapsed > malformedMaxTime || alloc > malformedMaxAlloc {
				t.Errorf("Load took %v and allocated %d MiB; want at most %v and %d MiB", elapsed, alloc>>20, malformedMaxTime, malformedMaxAlloc>>20)
			}
			checkPositions(t, in.name, []byte(in.src), list)
			if in.wantFirst != "" {
				if got := list[0].Error(); got != in.wantFirst {
					t.Errorf("first error:\n got %.300s\nwant %.300s", got, in.wantFirst)
				}
			}
		})
	}
}

// loadMeasured loads src and returns its ErrorList with the time and bytes
// allocated.
func loadMeasured(t *testing.T, name string, src []byte) (ErrorList, time.Duration, uint64) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	res, err := Load(context.Background(), name, src, testEnv())
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatalf("Load succeeded: %+v", res)
	}
	list, ok := err.(ErrorList)
	if !ok || len(list) == 0 {
		t.Fatalf("error is %T %v, want a non-empty ErrorList", err, err)
	}
	return list, elapsed, after.TotalAlloc - before.TotalAlloc
}

// checkPositions checks that every error of list is in file name, at a line
// and column inside src, and renders on one line as FILE:LINE:COL: message.
func checkPositions(t *testing.T, name string, src []byte, list ErrorList) {
	t.Helper()
	lines := bytes.Split(src, []byte("\n"))
	for _, e := range list {
		p := e.Pos
		switch {
		case p.File != name:
			t.Errorf("error %.200q is in file %q, want %q", e.Error(), p.File, name)
		case p.Line < 1 || p.Line > len(lines):
			t.Errorf("error %.200q: line %d outside 1..%d", e.Error(), p.Line, len(lines))
		case p.Col < 1 || p.Col > len(lines[p.Line-1])+1:
			t.Errorf("error %.200q: column %d outside 1..%d", e.Error(), p.Col, len(lines[p.Line-1])+1)
		}
		if s := e.Error(); strings.Contains(s, "\n") || !errorLine.MatchString(s) {
			t.Errorf("error does not render as one FILE:LINE:COL: message line: %.200q", s)
		}
	}
}

// TestErrorMessagesOneLine: a resolver error spanning lines (as errors.Join
// makes them) still gives one line per error.
func TestErrorMessagesOneLine(t *testing.T) {
	var s errorSink
	s.errorf(Pos{File: "p.yaml", Line: 3, Col: 5}, "cannot resolve %s: %v", "x.example", fmt.Errorf("A: timeout\nAAAA: timeout"))
	if got, want := s.errs.Error(), "p.yaml:3:5: cannot resolve x.example: A: timeout; AAAA: timeout"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
