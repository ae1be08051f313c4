package netns

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"testing"

	"github.com/leash-dev/leash/internal/kerneltest"
)

// TestRouteOif: the interface of the route to an address, in a namespace
// with a veth pair and a default route over it; no route is "".
func TestRouteOif(t *testing.T) {
	kerneltest.Require(t)
	name := fmt.Sprintf("leash-routetest-%d", os.Getpid())
	ns, err := Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	for _, args := range [][]string{
		{"link", "add", "up0", "type", "veth", "peer", "name", "up1"},
		{"addr", "add", "10.200.91.1/24", "dev", "up0"},
		{"link", "set", "up0", "up"},
		{"link", "set", "up1", "up"},
		{"route", "add", "default", "via", "10.200.91.2"},
	} {
		if out, err := exec.Command("ip", append([]string{"-n", name}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	for _, tc := range []struct {
		dst  string
		want string
	}{
		{dst: "203.0.113.9", want: "up0"},
		{dst: "10.200.91.2", want: "up0"},
		{dst: "2001:db8::1", want: ""}, // no IPv6 route
	} {
		got, err := RouteOif(name, netip.MustParseAddr(tc.dst))
		if err != nil {
			t.Fatalf("RouteOif(%s): %v", tc.dst, err)
		}
		if got != tc.want {
			t.Errorf("RouteOif(%s) = %q, want %q", tc.dst, got, tc.want)
		}
	}
}
