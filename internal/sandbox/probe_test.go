package sandbox

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestProbeArgsRoundTrip(t *testing.T) {
	for _, p := range []Probe{
		{Proto: TCP, Addr: netip.MustParseAddr("203.0.113.9"), Port: 443, Timeout: 300 * time.Millisecond},
		{Proto: UDP, Addr: netip.MustParseAddr("2001:db8::1"), Port: 53, Timeout: time.Second},
		{Proto: ICMPv6, Addr: netip.MustParseAddr("2001:db8::7"), Timeout: 2 * time.Second},
	} {
		got, err := parseProbeArgs(p.args())
		if err != nil {
			t.Fatalf("%v: %v", p.args(), err)
		}
		if got.Proto != p.Proto || got.Addr != p.Addr || got.Port != p.Port || got.Timeout != p.Timeout {
			t.Errorf("round trip of %+v = %+v", p, got)
		}
	}
}

func TestProbeValidation(t *testing.T) {
	v4, v6 := netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("2001:db8::7")
	for _, tc := range []struct {
		p    Probe
		want string
	}{
		{Probe{Proto: TCP, Addr: v4}, "needs a port"},
		{Probe{Proto: ICMP, Addr: v6}, "use icmpv6"},
		{Probe{Proto: ICMPv6, Addr: v4}, "use icmp"},
		{Probe{Proto: "sctp", Addr: v4, Port: 1}, "unknown probe protocol"},
		{Probe{Proto: UDP, Port: 1}, "no destination"},
		{Probe{Proto: UDP, Addr: v4, Port: 1, Timeout: time.Hour}, "out of range"},
	} {
		_, err := tc.p.withDefaults()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want it to say %q", tc.p, err, tc.want)
		}
	}
	p, err := Probe{Proto: ICMP, Addr: netip.MustParseAddr("::ffff:198.51.100.7")}.withDefaults()
	if err != nil || p.Addr != v4 || p.Timeout != DefaultProbeTimeout {
		t.Errorf("defaults: %+v, %v; want unmapped address and timeout %v", p, err, DefaultProbeTimeout)
	}
}

func TestPreflightNamesWhatIsMissing(t *testing.T) {
	found := func(string) (string, error) { return "/usr/sbin/ip", nil }
	missing := func(name string) (string, error) { return "", &notFound{name} }
	if err := preflight(1000, true, found); err == nil || !strings.Contains(err.Error(), "leash test needs root") {
		t.Errorf("as uid 1000: %v, want a message saying leash test needs root", err)
	}
	if err := preflight(0, true, missing); err == nil || !strings.Contains(err.Error(), "iproute2") {
		t.Errorf("without ip: %v, want a message naming iproute2", err)
	}
	if err := preflight(0, false, missing); err != nil {
		t.Errorf("with an injected runner: %v", err)
	}
	if err := preflight(0, true, found); err != nil {
		t.Errorf("as root with ip: %v", err)
	}
}

type notFound struct{ name string }

func (e *notFound) Error() string { return e.name + ": executable file not found in $PATH" }

func TestIsStale(t *testing.T) {
	for name, want := range map[string]bool{
		"leash-sbx-1-0-client":        false, // pid 1 lives
		"leash-sbx-2147483646-0-peer": true,  // above pid_max
		"leash-sbx-2147483646-x":      true,  // temp dir form
		"leash-sbx-notapid-0-client":  false,
		"leash-nft-2147483646-0":      false, // someone else's
		"nftexp1":                     false,
	} {
		if got := isStale(name); got != want {
			t.Errorf("isStale(%q) = %v, want %v", name, got, want)
		}
	}
}
