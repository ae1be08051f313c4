package sandbox_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/leash-dev/leash/internal/sandbox"
)

// loadOthers loads another tool's ruleset into the router (the client):
// testdata/others/NAME.iptables (and .ip6tables) with Debian's
// iptables-nft-restore, or NAME.nft with nft -f.
func loadOthers(t *testing.T, s *sandbox.Sandbox, name string) {
	t.Helper()
	loaded := false
	for ext, tool := range map[string]string{".iptables": "iptables-nft-restore", ".ip6tables": "ip6tables-nft-restore", ".nft": "nft"} {
		path := filepath.Join("testdata", "others", name+ext)
		f, err := os.Open(path)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		args := []string{"netns", "exec", s.Client().Name, tool}
		if tool == "nft" {
			args = append(args, "-f", "-")
		}
		cmd := exec.Command("ip", args...)
		cmd.Stdin = f
		out, err := cmd.CombinedOutput()
		f.Close()
		if err != nil {
			t.Fatalf("load %s with %s: %v: %s", path, tool, err, out)
		}
		loaded = true
	}
	if !loaded {
		t.Fatalf("no testdata/others/%s.*", name)
	}
}

// TestRouterCoexistence: the rulesets Docker, libvirt, ufw and firewalld
// generate, loaded next to leash's table on the router. All are the real
// tools' output, captured in throwaway namespaces by scripts/capture-*.sh
// (Docker 20.10, libvirt 9.0, ufw 0.36, firewalld 1.3 on Debian 12);
// docker-user adds Docker's documented DOCKER-USER fix to Docker's. leash's denials
// hold whatever they accept (a drop or reject in any base chain is final);
// leash's allows pass only where they accept too (an accept ends only its
// own chain): behind Docker's FORWARD policy DROP, nothing the LAN sends is
// forwarded until DOCKER-USER accepts it.
func TestRouterCoexistence(t *testing.T) {
	const pol = `version: 1
policies:
  - name: pc
    hosts: ["` + sandbox.LANMAC + `"]
    rules:
      - allow: {to: [203.0.113.9, "2001:db8::1"], ports: [443/tcp, 53/udp]}
    default: reject
`
	allowed4 := []lanFlow{{"tcp4 leash allows", sandbox.TCP, "203.0.113.9", 443, true}, {"udp4 leash allows", sandbox.UDP, "203.0.113.9", 53, true}}
	allowed6 := []lanFlow{{"tcp6 leash allows", sandbox.TCP, "2001:db8::1", 443, true}}
	denied := []lanFlow{
		{"tcp4 leash rejects", sandbox.TCP, "203.0.113.9", 80, false},
		{"udp4 leash rejects", sandbox.UDP, "198.51.100.7", 53, false},
		{"tcp6 leash rejects", sandbox.TCP, "2001:db8::1", 22, false},
	}
	for _, tc := range []struct {
		name string
		// blocks4: the other ruleset drops the LAN's forwarded IPv4 traffic.
		blocks4 bool
	}{
		{name: "docker", blocks4: true},
		{name: "docker-user"},
		{name: "libvirt"},
		{name: "ufw"},
		{name: "firewalld"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newLANSandbox(t)
			loadOthers(t, s, tc.name)
			rs := applyPolicy(t, s, pol)
			if tc.blocks4 {
				// The kernel drops what leash allows; leash check still
				// explains leash's own verdict, so only the kernel is probed.
				for _, f := range allowed4 {
					probeLAN(t, s, f, false)
				}
			} else {
				expectLAN(t, s, rs, sandbox.LANHost4(), allowed4)
			}
			expectLAN(t, s, rs, sandbox.LANHost4(), append(allowed6, denied...))
		})
	}
}
