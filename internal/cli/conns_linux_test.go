package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/leash-dev/leash/internal/cli"
	"github.com/leash-dev/leash/internal/identity"
	"github.com/leash-dev/leash/internal/netns"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/policy/policytest"
	"github.com/leash-dev/leash/internal/resolve"
	"github.com/leash-dev/leash/internal/sandbox/sandboxtest"
	"github.com/leash-dev/leash/internal/sockdiag"
	"github.com/leash-dev/leash/internal/sockdiag/sockdiagtest"
	"github.com/leash-dev/leash/internal/sockowner"
)

// TestConnsKernel: a real test user's process holds TCP and connected UDP
// connections over IPv4 and IPv6 in a namespace where a policy is applied
// (leash apply --netns); leash conns lists them under that user and process,
// each with the applied policy's verdict, and leaves out the connections
// the namespace's listeners accepted.
func TestConnsKernel(t *testing.T) {
	u := sandboxtest.Users(t, sandboxtest.UserSpec{Name: "conns", UID: 64431})[0]
	ns := sockdiagtest.NS(t, "cli-conns")
	l4 := sockdiagtest.ListenTCP(t, ns, "127.0.0.1:0")
	l6 := sockdiagtest.ListenTCP(t, ns, "[::1]:0")
	dns4, dns6 := netip.MustParseAddrPort("127.0.0.1:53"), netip.MustParseAddrPort("[::1]:53")
	h := sockdiagtest.Hold(t, ns, u.UID, u.GID,
		sockdiagtest.Target{Proto: sockdiag.TCP, Addr: l4}, sockdiagtest.Target{Proto: sockdiag.TCP, Addr: l6},
		sockdiagtest.Target{Proto: sockdiag.UDP, Addr: dns4}, sockdiagtest.Target{Proto: sockdiag.UDP, Addr: dns6})

	dir := t.TempDir()
	stateDir := filepath.Join(dir, "state")
	policyFile := filepath.Join(dir, "conns.yaml")
	policyText := fmt.Sprintf(`version: 1
policies:
  - name: conns
    users: [%d]
    loopback: rules
    rules:
      - allow: {to: [127.0.0.1], ports: [%d/tcp]}
    default: reject
`, u.UID, l4.Port())
	if err := os.WriteFile(policyFile, []byte(policyText), 0o644); err != nil {
		t.Fatal(err)
	}
	// `leash` is this test binary as the fixture command (testscript.Main).
	apply := exec.Command("leash", "--netns", ns.Name, "--state-dir", stateDir, "apply", policyFile)
	if out, err := apply.CombinedOutput(); err != nil {
		t.Fatalf("leash apply: %v\n%s", err, out)
	}

	env := policy.Env{
		Directory: &identity.Directory{
			Users:  []identity.User{{Name: "root"}, {Name: u.Name, UID: u.UID, GID: u.GID}},
			Groups: []identity.Group{{Name: "root"}, {Name: u.Name, GID: u.GID}},
		},
		Services: policytest.Services(),
		Resolver: resolve.Static(nil),
	}
	conns := func(args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		root := cli.New(cli.Deps{
			Stdout: &stdout, Stderr: &stderr,
			Env:        func(context.Context, cli.EnvOptions) (policy.Env, error) { return env, nil },
			Sockets:    sockowner.ListAll,
			LocalAddrs: netns.LocalAddrs,
			ReadFile:   os.ReadFile,
		})
		root.SetArgs(append([]string{"--netns", ns.Name, "--state-dir", stateDir}, args...))
		if err := root.ExecuteContext(context.Background()); err != nil {
			t.Fatalf("leash conns %v: %v\n%s", args, err, stderr.String())
		}
		return stdout.String()
	}

	t.Run("json", func(t *testing.T) {
		var got struct {
			JudgedBy string `json:"judged_by"`
			Users    []struct {
				User      string
				UID       uint32
				Processes []struct {
					PID         int
					Comm, Exe   string
					Connections []struct{ Proto, Dst, Verdict, ID string }
				}
			}
		}
		out := conns("--json", "conns")
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		type conn struct{ Proto, Dst, Verdict, ID string }
		type row struct {
			User      string
			UID       uint32
			PID       int
			Comm, Exe string
			Conns     []conn
		}
		var rows []row
		for _, u := range got.Users {
			for _, p := range u.Processes {
				r := row{User: u.User, UID: u.UID, PID: p.PID, Comm: p.Comm, Exe: p.Exe}
				for _, c := range p.Connections {
					r.Conns = append(r.Conns, conn{c.Proto, c.Dst, c.Verdict, c.ID})
				}
				rows = append(rows, r)
			}
		}
		want := []row{{User: u.Name, UID: u.UID, PID: h.PID, Comm: "sleep", Exe: h.Exe, Conns: []conn{
			{"tcp", l4.String(), "allow", "conns/r1"},
			{"tcp", l6.String(), "reject", "conns/default"},
			{"udp", dns4.String(), "reject", "conns/default"},
			{"udp", dns6.String(), "reject", "conns/default"},
		}}}
		if diff := cmp.Diff(want, rows); diff != "" {
			t.Errorf("leash conns --json: users, processes, connections (-want +got):\n%s\n%s", diff, out)
		}
		if got.JudgedBy != "generation 1 ("+policyFile+")" {
			t.Errorf("judged_by = %q, want generation 1 (%s)", got.JudgedBy, policyFile)
		}
	})

	t.Run("text", func(t *testing.T) {
		out := conns("conns", "--user", u.Name)
		for _, re := range []string{
			`(?m)^verdicts of generation 1 \(.*conns.yaml\) for a new connection like each one$`,
			fmt.Sprintf(`(?m)^%s \(uid %d\)$`, u.Name, u.UID),
			fmt.Sprintf(`(?m)^  pid %d sleep \(%s\)`, h.PID, regexp.QuoteMeta(h.Exe)),
			fmt.Sprintf(`(?m)^    tcp  127\.0\.0\.1:\d+ -> %s +established  allow  by conns/r1$`, regexp.QuoteMeta(l4.String())),
			fmt.Sprintf(`(?m)^    udp  \[::1\]:\d+ -> %s +established  reject by conns/default$`, regexp.QuoteMeta(dns6.String())),
			`(?m)^4 connection\(s\) of 1 user\(s\)$`,
		} {
			if !regexp.MustCompile(re).MatchString(out) {
				t.Errorf("leash conns output does not match %s:\n%s", re, out)
			}
		}
	})
}
