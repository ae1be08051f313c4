package cli_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/identity"
	"github.com/leash-dev/leash/internal/kerneltest"
	"github.com/leash-dev/leash/internal/netns"
	"github.com/leash-dev/leash/internal/nft"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/policy/policytest"
	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/state"
)

// Sizes of the large policy B: enough that applying it takes well over
// 100 ms, so that kills land in every phase of the command.
const (
	atomicUsers = 20_000
	atomicCIDRs = 20_000
	// atomicKills is how many applies are killed; atomicBudget bounds the
	// whole test.
	atomicKills  = 40
	atomicMin    = 30
	atomicBudget = 50 * time.Second
)

// TestApplyAtomicUnderSIGKILL kills `leash apply` (the real command, the
// fixture binary) with SIGKILL at random points, many times, alternating a
// small policy A and a large policy B (20,000 users of one group and 20,000
// CIDRs), in a namespace of its own. After every kill the kernel must hold
// exactly A's or exactly B's compiled table, never a mix and never none,
// and the state directory's current generation must still load. Then the
// state must agree with the kernel: `leash status` (which takes no lock
// and writes nothing) says "in sync", and after a command that takes the
// lock (`leash confirm`, which recovers an interrupted change first) the
// current generation is exactly what the kernel holds and no intent is
// left. It logs where the kills landed: before the kernel commit (old
// table), after it (new table), or after the command had finished; and
// how often `current` alone lagged the kernel before recovery, and what
// recovery did.
func TestApplyAtomicUnderSIGKILL(t *testing.T) {
	kerneltest.Require(t)
	start := time.Now()
	leash := fixtureBinary(t)
	ns, err := netns.Create(fmt.Sprintf("leash-atomic-%d", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	dir := t.TempDir()
	f := writeAtomicFixture(t, dir)
	want := map[string]string{"A": f.compiledText(t, f.a), "B": f.compiledText(t, f.b)}
	policyFile := map[string]string{"A": f.a, "B": f.b}
	stateDir := filepath.Join(dir, "state")
	leashCmd := func(args ...string) *exec.Cmd {
		return exec.Command(leash, append([]string{"--netns", ns.Name, "--state-dir", stateDir,
			"--passwd", f.passwd, "--group", f.group}, args...)...)
	}
	apply := func(name string) *exec.Cmd { return leashCmd("apply", policyFile[name]) }
	st := &state.Store{Dir: stateDir}
	read := func() string { return readTableText(t, ns.Name) }

	// Calibrate: apply A, B, A without killing; each must be exact.
	took := map[string]time.Duration{}
	for _, name := range []string{"A", "B", "A"} {
		begin := time.Now()
		if out, err := apply(name).CombinedOutput(); err != nil {
			t.Fatalf("apply %s: %v\n%s", name, err, out)
		}
		took[name] = max(took[name], time.Since(begin))
		if got := read(); got != want[name] {
			t.Fatalf("after applying %s the kernel holds something else:\n%.2000s", name, got)
		}
	}
	t.Logf("apply takes up to %v for A, %v for B (process start to exit)", took["A"].Round(time.Millisecond), took["B"].Round(time.Millisecond))
	if took["B"] < 100*time.Millisecond {
		t.Errorf("apply B took only %v; make B larger so kills land inside it", took["B"])
	}

	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("random delays seeded with %d", seed)
	held := "A"
	var landed struct{ before, after, finished, stateBehind, forward, back int }
	kills := 0
	for ; kills < atomicKills && time.Since(start) < atomicBudget; kills++ {
		target := map[string]string{"A": "B", "B": "A"}[held]
		// Every other kill aims at the last quarter of the command, where
		// the kernel commit and the state write are: the window recovery
		// is for is short.
		span, from := int64(took[target]), int64(0)
		if kills%2 == 1 {
			from = span * 3 / 4
		}
		delay := time.Duration(from + rng.Int64N(span-from+1))
		cmd := apply(target)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		killErr := cmd.Process.Kill() // SIGKILL
		waitErr := cmd.Wait()
		got := read()
		switch {
		case got == want[held] && got != want[target]:
			landed.before++
		case got != want[target]:
			t.Fatalf("kill %d (apply %s after %v): the kernel holds neither A nor B:\n%.3000s", kills, target, delay, got)
		case errors.Is(killErr, os.ErrProcessDone) || waitErr == nil:
			landed.finished++
			held = target
		default:
			landed.after++
			held = target
		}
		gen, err := st.Current()
		if err != nil {
			t.Fatalf("kill %d (apply %s after %v): the current generation does not load: %v", kills, target, delay, err)
		}
		if generationText(gen) != got {
			landed.stateBehind++ // what status reported as drifted before recovery existed
		}
		switch recovered := checkRecovery(t, leashCmd, st, got); recovered {
		case state.RolledForward:
			landed.forward++
		case state.RolledBack:
			landed.back++
		case "fail":
			t.Errorf("kill %d (apply %s after %v, kernel holds %s): state and kernel disagree after recovery", kills, target, delay,
				map[bool]string{true: "the old table", false: "the new table"}[got == want[held] && got != want[target]])
		}
	}
	t.Logf("%d kills in %v: %d before the kernel commit (old table kept), %d after it (new table), %d after the command had finished; "+
		"after %d kills `current` alone was not what the kernel held (the kill came between the kernel commit and the state write); "+
		"recovery rolled %d interrupted applies forward and %d back, and state and kernel agreed after every kill",
		kills, time.Since(start).Round(time.Millisecond), landed.before, landed.after, landed.finished, landed.stateBehind, landed.forward, landed.back)
	if kills < atomicMin {
		t.Errorf("only %d kills within %v; want at least %d", kills, atomicBudget, atomicMin)
	}
}

// generationText is gen's ruleset as canonical nft text without counters
// ("" for no table), to compare with readTableText.
func generationText(gen *state.Generation) string {
	if gen.Ruleset == nil {
		return ""
	}
	return ruleset.Text(ruleset.Canonical(compile.WithOrphanTag(gen.Ruleset, compile.FirstOrphanTag)), ruleset.TextOptions{})
}

// checkRecovery checks, after a kill, that the state agrees with the
// kernel, whose table is kernelText: `leash status` says in sync (deciding
// an interrupted change in memory), and after `leash confirm` (nothing is
// pending, so it only takes the lock, recovers and exits 1) no intent is
// left and the current generation is the kernel's table. It returns what
// recovery did ("" if nothing was interrupted), or "fail" after reporting
// why.
func checkRecovery(t *testing.T, leash func(...string) *exec.Cmd, st *state.Store, kernelText string) state.Outcome {
	t.Helper()
	in, err := st.Intent()
	if err != nil {
		t.Errorf("intent record: %v", err)
		return "fail"
	}
	out, err := leash("status").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "in sync:") {
		t.Errorf("leash status: %v\n%.1500s", err, out)
		return "fail"
	}
	out, err = leash("confirm").CombinedOutput()
	if !strings.Contains(string(out), "nothing is pending confirmation") {
		t.Errorf("leash confirm: %v\n%.1500s", err, out)
		return "fail"
	}
	if left, err := st.Intent(); left != nil || err != nil {
		t.Errorf("after leash confirm an intent is left: %+v, %v\n%s", left, err, out)
		return "fail"
	}
	gen, err := st.Current()
	if err != nil {
		t.Errorf("after recovery the current generation does not load: %v", err)
		return "fail"
	}
	if generationText(gen) != kernelText {
		t.Errorf("after recovery the current generation %d is not the kernel's table; leash confirm said:\n%s", gen.ID, out)
		return "fail"
	}
	if in == nil {
		return ""
	}
	if gen.ID == in.Generation {
		return state.RolledForward
	}
	return state.RolledBack
}

// atomicFixture is a user database and the policies A and B, as files.
type atomicFixture struct {
	passwd, group, a, b string
}

// writeAtomicFixture writes atomicUsers users, all members of group big
// (uids 2 apart, so none merge into ranges), policy A (one user, deny) and
// policy B (group big, deny atomicCIDRs disjoint /24s, allow the rest).
func writeAtomicFixture(t *testing.T, dir string) atomicFixture {
	t.Helper()
	f := atomicFixture{
		passwd: filepath.Join(dir, "passwd"), group: filepath.Join(dir, "group"),
		a: filepath.Join(dir, "a.yaml"), b: filepath.Join(dir, "b.yaml"),
	}
	var pw, members, cidrs strings.Builder
	pw.WriteString("root:x:0:0:root:/root:/bin/sh\n")
	for i := range atomicUsers {
		fmt.Fprintf(&pw, "u%05d:x:%d:5000::/nonexistent:/usr/sbin/nologin\n", i, 100_000+2*i)
		if i > 0 {
			members.WriteString(",")
		}
		fmt.Fprintf(&members, "u%05d", i)
	}
	for i := range atomicCIDRs {
		fmt.Fprintf(&cidrs, "      - 10.%d.%d.0/24\n", i/128, 2*(i%128))
	}
	files := map[string]string{
		f.passwd: pw.String(),
		f.group:  "root:x:0:\nbig:x:5000:" + members.String() + "\n",
		f.a:      "version: 1\npolicies:\n  - name: small\n    users: [u00000]\n    default: deny\n",
		f.b: "version: 1\ndestinations:\n  blocked:\n" + cidrs.String() +
			"policies:\n  - name: large\n    groups: [big]\n    rules:\n      - deny: {to: [blocked]}\n    default: allow\n",
	}
	for path, content := range files {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// compiledText compiles policy file path in-process, with the environment
// the fixture leash uses for --passwd/--group, and returns its canonical
// nft text without counters: what the kernel must hold after applying it.
func (f atomicFixture) compiledText(t *testing.T, path string) string {
	t.Helper()
	dir, err := identity.LoadFiles(f.passwd, f.group)
	if err != nil {
		t.Fatal(err)
	}
	env := policytest.Env(policytest.DefaultIDs)
	env.Directory = dir
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	res, err := policy.Load(context.Background(), path, src, env)
	if err != nil {
		t.Fatal(err)
	}
	return ruleset.Text(ruleset.Canonical(compile.Compile(res)), ruleset.TextOptions{})
}

// readTableText reads table inet leash in namespace ns over netlink and
// returns its nft text without counters, or "" if there is none. The
// orphan tag, which each changed generation moves on (engine/orphantag.go),
// reads as the first tag, as compiledText has it.
func readTableText(t *testing.T, ns string) string {
	t.Helper()
	c, err := nft.OpenNetNS(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rs, err := c.Read()
	if err != nil {
		t.Fatalf("read table: %v", err)
	}
	if rs == nil {
		return ""
	}
	return ruleset.Text(compile.WithOrphanTag(rs, compile.FirstOrphanTag), ruleset.TextOptions{})
}
