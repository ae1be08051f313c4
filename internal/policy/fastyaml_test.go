package policy

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goccy/go-yaml/ast"
	"github.com/google/go-cmp/cmp"
)

// fastSeeds are the examples, the good and bad corpus and a few files
// written for the fast reader's edges.
func fastSeeds(t testing.TB) map[string][]byte {
	seeds := map[string][]byte{}
	for _, pattern := range []string{"../../examples/*.yaml", "testdata/*/*.yaml"} {
		files, _ := filepath.Glob(pattern)
		for _, name := range files {
			src, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			seeds[name] = src
		}
	}
	for i, src := range []string{
		"version: 1\npolicies:\n  - {name: a, users: [1], default: deny, rules: [{allow: {to: [fd00::1]}}]}\n",
		"version: 1\npolicies:\n- name: a\n  users: [1, 'x', \"y\"]   # users\n  rules:\n  - allow: {to: [10.0.0.0/8], ports: [53/udp, 80]}\n  - deny: {}\n  default: deny\n",
		"version: 1 # v\n\n# c\npolicies:\n  - name: a\n    users:\n      - 1\n      - {uid: 2}\n    rules: []\n    default: deny\n",
		"version: 1\npolicies:\n  - name: a  b\n    everyone: true\n    log: null\n    default: ~\n",
		"version: 1\npolicies:\n  - name: a\n    users: [1]\n    rules:\n      - allow:\n          to: [1.2.3.4]\n          ports: [1-10/tcp, 0x10, 010, 1e3, .inf, 1.5]\n    default: deny\n",
		"version: 1\ndestinations:\n  lan: [10.0.0.0/8, fd00::/8, fd00::1, a:b, 1:2, x::y:z]\n  mac:\n    - 02:00:00:c8:01:0a\n    - fd00::1\n    - [fd00::2]\npolicies:\n  - name: a\n    users: [1]\n    when: 09:00\n    rules:\n      - allow: {to: [lan]}\n      - allow:\n          to: [fd00::3, 10.1.2.3]\n          ports: [icmp:8]\n    default: deny\n",
		"version: 1\npolicies:\n  - name: a\n    everyone: True\n    log: yes\n    on: NULL\n    y: [No, off, FALSE, Null, n, .NaN, .inf, +1, +.5, 1_0, 0o7, 0b1, 1.2.3, 1/2, _1]\n    default: deny\n",
	} {
		seeds[fmt.Sprint("edge", i)] = []byte(src)
	}
	// Sequences long enough to be read in parallel (parallelSequence):
	// many policies, and one policy of many rules.
	seeds["many-policies"] = manyEntries(150, 2)
	seeds["many-rules"] = manyEntries(1, 300)
	return seeds
}

// manyEntries is a file of policies of rules each, in mixed forms (block
// and flow entries, comments, blank lines).
func manyEntries(policies, rules int) []byte {
	var b strings.Builder
	b.WriteString("version: 1\npolicies:\n")
	for p := range policies {
		fmt.Fprintf(&b, "  - name: p%d\n    users: [%d]\n    rules:\n", p, 1000+p)
		for r := range rules {
			if r%3 == 0 {
				fmt.Fprintf(&b, "      - allow:\n          to: [10.%d.%d.0/24]   # r%d\n\n", p%250, r%250, r)
			} else {
				fmt.Fprintf(&b, "      - allow: {to: [10.%d.%d.1], ports: [%d/tcp]}\n", p%250, r%250, 1+r)
			}
		}
		b.WriteString("    default: deny\n")
	}
	return []byte(b.String())
}

// TestFastYAMLParallelDeclines: something outside the subset in one entry
// of a sequence read in parallel declines the whole file, wherever it is.
func TestFastYAMLParallelDeclines(t *testing.T) {
	for _, n := range []int{0, 70, 149} {
		src := strings.Replace(string(manyEntries(150, 2)), fmt.Sprintf("name: p%d\n", n), fmt.Sprintf("name: &a p%d\n", n), 1)
		if fastRoot([]byte(src)) != nil {
			t.Errorf("an anchor in policy %d: the fast reader read the file", n)
		}
	}
}

// TestFastYAMLSameTree checks that wherever the fast reader reads a file,
// it builds goccy's tree (node and token types, values, positions), and
// the walk of either gives the same File, errors and warnings.
func TestFastYAMLSameTree(t *testing.T) {
	read := 0
	for name, src := range fastSeeds(t) {
		t.Run(name, func(t *testing.T) {
			if sameAsGoccy(t, src) {
				read++
			}
		})
	}
	if read < 20 {
		t.Errorf("the fast reader read only %d of the seeds", read)
	}
}

// FuzzFastYAML is TestFastYAMLSameTree on any input.
func FuzzFastYAML(f *testing.F) {
	for _, src := range fastSeeds(f) {
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src []byte) { sameAsGoccy(t, src) })
}

// sameAsGoccy compares the fast reader with goccy on src and reports
// whether the fast reader read it.
func sameAsGoccy(t *testing.T, src []byte) bool {
	t.Helper()
	fast := fastRoot(src)
	if fast == nil {
		return false
	}
	slow := &parser{file: "f.yaml"}
	root := slow.document(src)
	if root == nil {
		t.Fatalf("goccy refuses what the fast reader read: %v\n%s", slow.errs.err(), src)
	}
	if diff := cmp.Diff(dumpTree(root), dumpTree(fast)); diff != "" {
		t.Fatalf("trees differ (-goccy +fast):\n%s\n%s", diff, src)
	}
	quick := &parser{file: "f.yaml", lineLens: lineLengths(src)}
	want, got := slow.fileDecl(root), quick.fileDecl(fast)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("files differ (-goccy +fast):\n%s", diff)
	}
	if diff := cmp.Diff(slow.errorSink, quick.errorSink, cmp.AllowUnexported(errorSink{})); diff != "" {
		t.Fatalf("errors differ (-goccy +fast):\n%s", diff)
	}
	return true
}

// dumpTree is n as lines: node type, token type, value, position, style.
func dumpTree(n ast.Node) []string {
	var out []string
	var walk func(n ast.Node, depth int)
	walk = func(n ast.Node, depth int) {
		pad := strings.Repeat(" ", depth)
		if n == nil {
			out = append(out, pad+"nil")
			return
		}
		tk := n.GetToken()
		line := fmt.Sprintf("%s%T %v %q %d:%d", pad, n, tk.Type, tk.Value, tk.Position.Line, tk.Position.Column)
		switch v := n.(type) {
		case *ast.MappingNode:
			out = append(out, fmt.Sprintf("%s flow=%v", line, v.IsFlowStyle))
			for _, mv := range v.Values {
				walk(mv, depth+1)
			}
		case *ast.MappingValueNode:
			out = append(out, line)
			walk(v.Key, depth+1)
			walk(v.Value, depth+1)
		case *ast.SequenceNode:
			out = append(out, fmt.Sprintf("%s flow=%v", line, v.IsFlowStyle))
			for _, x := range v.Values {
				walk(x, depth+1)
			}
		case *ast.StringNode:
			out = append(out, fmt.Sprintf("%s value=%q", line, v.Value))
		case *ast.BoolNode:
			out = append(out, fmt.Sprintf("%s value=%v", line, v.Value))
		case *ast.IntegerNode:
			out = append(out, fmt.Sprintf("%s value=%v", line, v.Value))
		default:
			out = append(out, line)
		}
	}
	walk(n, 0)
	return out
}

// TestParallelPoliciesMessages: errors in policies converted in parallel
// (inParts) come back in file order, each once, whichever run found them.
func TestParallelPoliciesMessages(t *testing.T) {
	src := string(manyEntries(150, 2))
	for _, n := range []int{3, 70, 148} {
		src = strings.Replace(src, fmt.Sprintf("    users: [%d]\n", 1000+n), fmt.Sprintf("    users: [%d]\n    colour: red\n", 1000+n), 1)
	}
	_, err := Parse("f.yaml", []byte(src))
	var lines []int
	if l, ok := err.(ErrorList); ok {
		for _, e := range l {
			if strings.Contains(e.Msg, "colour") {
				lines = append(lines, e.Pos.Line)
			}
		}
	}
	if len(lines) != 3 || lines[0] >= lines[1] || lines[1] >= lines[2] {
		t.Errorf("unknown-key errors at lines %v, want three in file order; all: %v", lines, err)
	}
}
