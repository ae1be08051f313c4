package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/leash-dev/leash/internal/kerneltest"
	"github.com/leash-dev/leash/internal/netns"
)

// TestBadInputLeavesKernelUntouched applies every malformed policy of
// internal/policy/testdata/bad, and a few generated big ones, with the real
// command (the fixture binary testscript puts in $PATH) in a namespace
// where a good policy is enforced. Each must exit 2 with nothing on stdout
// and every error on stderr as FILE:LINE:COL: message, and leave the
// namespace's ruleset (listed with handles, so even an identical reload
// would show) and the state directory byte-identical.
func TestBadInputLeavesKernelUntouched(t *testing.T) {
	kerneltest.Require(t)
	leash := fixtureBinary(t)
	ns, err := netns.Create(fmt.Sprintf("leash-badinput-%d", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	dir := t.TempDir()
	stateDir := filepath.Join(dir, "state")
	run := func(args ...string) (stdout, stderr string, code int) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, leash, append([]string{"--netns", ns.Name, "--state-dir", stateDir}, args...)...)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		if ctx.Err() != nil {
			t.Fatalf("leash %v did not finish within 30s", args)
		}
		code = cmd.ProcessState.ExitCode()
		if err != nil && code < 0 {
			t.Fatalf("leash %v: %v", args, err)
		}
		return o.String(), e.String(), code
	}
	if out, errOut, code := run("apply", "../../examples/combined.yaml"); code != 0 {
		t.Fatalf("applying the good policy: exit %d\n%s%s", code, out, errOut)
	}
	rulesBefore := nftListRuleset(t, ns.Name)
	stateBefore := snapshotDir(t, stateDir)

	for _, path := range badInputs(t, dir) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			out, errOut, code := run("apply", path)
			if code != 2 || out != "" {
				t.Errorf("exit %d, stdout %q; want exit 2 and no output", code, out)
			}
			checkErrorLines(t, path, errOut)
			if got := nftListRuleset(t, ns.Name); got != rulesBefore {
				t.Fatalf("the ruleset changed:\nbefore:\n%s\nafter:\n%s", rulesBefore, got)
			}
			if got := snapshotDir(t, stateDir); got != stateBefore {
				t.Fatalf("the state directory changed:\nbefore:\n%s\nafter:\n%s", stateBefore, got)
			}
		})
	}
}

// badInputs are the bad corpus of internal/policy and big malformed files
// generated into dir.
func badInputs(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob("../policy/testdata/bad/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad policy corpus: %v", err)
	}
	var cidrs strings.Builder
	cidrs.WriteString("version: 1\ndestinations:\n  big:\n")
	for i := range 100_000 {
		fmt.Fprintf(&cidrs, "    - 10.%d.%d.0/24\n", i/256%256, i%256)
	}
	cidrs.WriteString("    - 10.0.0.0/33\npolicies:\n  - name: web\n    users: [apache]\n    rules:\n      - deny: {to: [big]}\n    default: allow\n")
	var keys strings.Builder
	for i := range 100_000 {
		fmt.Fprintf(&keys, "k%d: x\n", i)
	}
	for name, src := range map[string]string{
		"100k-lines.yaml": cidrs.String(),
		"100k-keys.yaml":  keys.String(),
		"deep-flow.yaml":  "version: 1\npolicies: " + strings.Repeat("[", 100_000) + "\n",
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, path)
	}
	return files
}

// checkErrorLines checks that stderr is one FILE:LINE:COL: message line per
// error, then leash's summary line.
func checkErrorLines(t *testing.T, file, stderr string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	last := lines[len(lines)-1]
	if !regexp.MustCompile(`^leash: \d+ error\(s\); nothing was changed$`).MatchString(last) {
		t.Errorf("last stderr line %.200q, want the summary `leash: N error(s); nothing was changed`", last)
	}
	errorLine := regexp.MustCompile(`^` + regexp.QuoteMeta(file) + `:[1-9]\d*:[1-9]\d*: \S`)
	if len(lines) < 2 {
		t.Errorf("no error lines in stderr %.300q", stderr)
	}
	for _, l := range lines[:len(lines)-1] {
		if !errorLine.MatchString(l) {
			t.Errorf("stderr line is not FILE:LINE:COL: message: %.200q", l)
		}
	}
}

// fixtureBinary is the `leash` testscript.Main put first in $PATH: this test
// binary, running fixtureLeash.
func fixtureBinary(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("leash")
	if err != nil || !strings.Contains(path, "testscript-main") {
		t.Fatalf("the fixture leash is not first in $PATH (found %q, %v)", path, err)
	}
	return path
}

// nftListRuleset is `nft -a list ruleset` in namespace ns.
func nftListRuleset(t *testing.T, ns string) string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns, "nft", "-a", "list", "ruleset").CombinedOutput()
	if err != nil {
		t.Fatalf("nft list ruleset: %v\n%s", err, out)
	}
	return string(out)
}

// snapshotDir lists every file under dir with its size, mode and content,
// for byte-for-byte comparison.
func snapshotDir(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v %d\n", path, info.Mode(), info.Size())
		if d.Type().IsRegular() {
			content, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "%q\n", content)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
