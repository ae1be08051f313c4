package sandbox_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/leash-dev/leash/internal/kerneltest"
	"github.com/leash-dev/leash/internal/sandbox"
)

// serve runs one inbound exchange to c's server on port, from remote.
func serve(t *testing.T, s *sandbox.Sandbox, c creds, proto string, port uint16, remote netip.Addr, timeout time.Duration) sandbox.Outcome {
	t.Helper()
	out, err := s.Serve(context.Background(), sandbox.Inbound{
		UID: c.uid, GID: c.gid, Groups: c.groups,
		Proto: proto, Port: port, Remote: remote, Timeout: timeout,
	})
	if err != nil {
		t.Fatalf("inbound %s from %v to %s's port %d: %v", proto, remote, c.name, port, err)
	}
	t.Logf("inbound %s from %-12v to %s:%d: %v", proto, remote, c.name, port, out)
	return out
}

func TestInboundReachesTheSubjectsServer(t *testing.T) {
	kerneltest.Require(t)
	owner, _ := testUsers(t)
	s := newSandbox(t, nil)
	for _, remote := range sandbox.RemoteAddrs() {
		for _, proto := range []string{sandbox.TCP, sandbox.UDP} {
			// Port 25: an unprivileged uid may bind any port in the client.
			out := serve(t, s, owner, proto, 25, remote, time.Second)
			if !out.Allowed() || out.UID != owner.uid || out.GID != owner.gid {
				t.Errorf("inbound %s from %v = %v as uid %d gid %d, want connected as %d/%d", proto, remote, out, out.UID, out.GID, owner.uid, owner.gid)
			}
		}
	}
}

// The subject's replies are its own packets: a drop of its uid stops them,
// unless the rule before it lets conntrack's reply direction through (what
// `established: allow` compiles to).
func TestInboundRepliesAreTheSubjectsPackets(t *testing.T) {
	kerneltest.Require(t)
	owner, _ := testUsers(t)
	s := newSandbox(t, nil)
	loadRules(t, s, "meta skuid 64001 drop")
	for _, remote := range sandbox.RemoteAddrs() {
		for _, proto := range []string{sandbox.TCP, sandbox.UDP} {
			if out := serve(t, s, owner, proto, 5432, remote, deniedTimeout); out.Allowed() {
				t.Errorf("inbound %s from %v = %v through a skuid drop", proto, remote, out)
			}
		}
	}
	loadRules(t, s, "meta skuid 64001 ct direction reply accept\n\t\tmeta skuid 64001 drop")
	for _, remote := range sandbox.RemoteAddrs() {
		for _, proto := range []string{sandbox.TCP, sandbox.UDP} {
			if out := serve(t, s, owner, proto, 5432, remote, time.Second); !out.Allowed() {
				t.Errorf("inbound %s from %v = %v, want connected (reply direction accepted)", proto, remote, out)
			}
		}
	}
	// Each case reuses the same ports: repeat to show nothing lingers.
	for i := range 3 {
		if out := serve(t, s, owner, sandbox.TCP, 5432, sandbox.RemoteAddrs()[i%2], time.Second); !out.Allowed() {
			t.Errorf("repeat %d: %v", i, out)
		}
	}
}
