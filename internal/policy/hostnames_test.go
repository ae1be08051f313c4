package policy

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/leash-dev/leash/internal/resolve"
)

// TestHostnamesBehindDeadServer: hostnames whose server never answers fail
// each at its FILE:LINE:COL, and once together, at the first of them, with
// how many failed and why.
func TestHostnamesBehindDeadServer(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0") // a server that never answers
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	dead := pc.LocalAddr().String()
	env := testEnv()
	env.Resolver = &resolve.DNS{NoHosts: true, Servers: []string{dead}, Timeout: 100 * time.Millisecond, Attempts: 1,
		Deadline: 10 * time.Second}
	const src = `version: 1
destinations:
  mirrors: [b.example.org, 192.0.2.1]
policies:
  - name: web
    users: [alice]
    rules:
      - allow: {to: [mirrors, a.example.org]}
      - deny: {to: [c.example.org, b.example.org]}
    default: deny
`
	_, err = Load(context.Background(), "p.yaml", []byte(src), env)
	if err == nil {
		t.Fatal("Load succeeded")
	}
	noAnswer := func(host string) string {
		return fmt.Sprintf("cannot resolve hostname %q: resolve: %s: no answer from %s (timeout); check the name or add it to /etc/hosts", host, host, dead)
	}
	want := []string{
		fmt.Sprintf("p.yaml:3:13: 3 hostnames could not be resolved: no answer from %s (timeout)", dead),
		"p.yaml:3:13: " + noAnswer("b.example.org"),
		"p.yaml:8:31: " + noAnswer("a.example.org"),
		"p.yaml:9:21: " + noAnswer("c.example.org"),
		"p.yaml:9:36: " + noAnswer("b.example.org"),
	}
	if diff := cmp.Diff(want, strings.Split(err.Error(), "\n")); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}
