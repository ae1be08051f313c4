package sandbox

import (
	"net/netip"
	"testing"
)

func TestIsClientAddr(t *testing.T) {
	for a, want := range map[string]bool{
		"127.0.0.1": true, "127.1.2.3": true, "::1": true, "10.200.0.2": true, "fd00:200::2": true,
		"::ffff:127.0.0.1": true, "10.200.0.1": false, "203.0.113.9": false, "2001:db8::1": false,
	} {
		if got := isClientAddr(netip.MustParseAddr(a)); got != want {
			t.Errorf("isClientAddr(%s) = %v, want %v", a, got, want)
		}
	}
}
