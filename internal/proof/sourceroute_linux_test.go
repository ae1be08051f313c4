package proof_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/leash-dev/leash/internal/kerneltest"
	"github.com/leash-dev/leash/internal/policy/policytest"
	"github.com/leash-dev/leash/internal/sandbox"
	"golang.org/x/sys/unix"
)

// A restricted user may set IPv4 source routing options (IP_OPTIONS, no
// privilege needed): the packet's destination is then the first hop, which
// the policy allows, and the option carries it on to a denied address.
// Every policy chain drops such packets; without that rule the send
// passes.
func TestSourceRoutedPacketsAreDropped(t *testing.T) {
	kerneltest.Require(t)
	const uid = 64290 // no account needed: a socket's owner is its creator's fsuid
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sb := restrictedSandbox(t, ctx, uid, "203.0.113.9", "10.200.0.1")
	// A strict route's first hop must be on the link: the peer.
	allowed, onLink, denied := netip.MustParseAddr("203.0.113.9"), netip.MustParseAddr("10.200.0.1"), netip.MustParseAddr("198.51.100.7")
	for _, tc := range []struct {
		name    string
		options []byte
		dst     netip.Addr
		want    error
	}{
		{"allowed, no options", nil, allowed, nil},
		{"denied, no options", nil, denied, unix.EPERM},
		{"allowed on the link, no options", nil, onLink, nil},
		{"loose source route via the allowed address", sourceRoute(ipoptLSRR, allowed), denied, unix.EPERM},
		{"strict source route via the allowed address", sourceRoute(ipoptSSRR, onLink), denied, unix.EPERM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if derr := sb.Client().Do(func() error { err = sendAs(uid, tc.options, netip.AddrPortFrom(tc.dst, 53)); return nil }); derr != nil {
				t.Fatal(derr)
			}
			if err != tc.want {
				t.Errorf("send to %v = %v, want %v", tc.dst, err, tc.want)
			}
		})
	}
}

// restrictedSandbox is a sandbox whose client namespace holds a policy
// that lets uid send DNS datagrams to the allowed addresses only.
func restrictedSandbox(t *testing.T, ctx context.Context, uid uint32, allowed ...string) *sandbox.Sandbox {
	t.Helper()
	ids := policytest.DefaultIDs
	ids.Oracle = uid
	src := fmt.Sprintf("version: 1\npolicies:\n  - name: p\n    users: [oracle]\n    rules:\n      - allow: {to: [\"%s\"], ports: [53/udp]}\n    default: deny\n",
		strings.Join(allowed, `", "`))
	rs := compileFile(t, ctx, "p.yaml", src, policytest.Env(ids))
	sb, k := newSandbox(t, ctx)
	if err := k.Apply(rs); err != nil {
		t.Fatal(err)
	}
	return sb
}

// sourceRoute is an IP_OPTIONS value: one loose or strict source route
// through hop (the kernel appends the final destination itself), padded with
// an end-of-options byte to a multiple of 4.
func sourceRoute(typ byte, hop netip.Addr) []byte {
	h := hop.As4()
	return []byte{typ, 7, 4, h[0], h[1], h[2], h[3], 0}
}

// sendAs sends one UDP datagram to an IPv4 dst from a socket whose owner is
// uid (created with that fsuid on this locked thread), with IP options set
// unless nil.
func sendAs(uid int, options []byte, dst netip.AddrPort) error {
	prev, _ := unix.SetfsuidRetUid(uid)
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	unix.Setfsuid(prev)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if options != nil {
		if err := unix.SetsockoptString(fd, unix.IPPROTO_IP, unix.IP_OPTIONS, string(options)); err != nil {
			return err
		}
	}
	return unix.Sendto(fd, []byte("x"), 0, &unix.SockaddrInet4{Addr: dst.Addr().As4(), Port: int(dst.Port())})
}

// IPv4 option types (RFC 791): loose and strict source and record route.
const (
	ipoptLSRR = 131
	ipoptSSRR = 137
)

// A restricted user may set an IPv6 segment routing header (IPV6_RTHDR,
// type 4, no privilege needed): the packet leaves for the first segment,
// which the policy allows, and the header carries it on to the
// destination the socket named, which it denies. Every policy chain drops
// IPv6 packets with a routing header; without that rule the send passes.
func TestRoutingHeaderPacketsAreDropped(t *testing.T) {
	kerneltest.Require(t)
	const uid = 64294 // no account needed: a socket's owner is its creator's fsuid
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sb := restrictedSandbox(t, ctx, uid, "2001:db8::9")
	allowed, denied := netip.MustParseAddr("2001:db8::9"), netip.MustParseAddr("2001:db8::7")
	for _, tc := range []struct {
		name string
		via  netip.Addr // the first segment, none if invalid
		dst  netip.Addr
		want error
	}{
		{name: "allowed, no header", dst: allowed},
		{name: "denied, no header", dst: denied, want: unix.EPERM},
		{name: "denied through the allowed address", via: allowed, dst: denied, want: unix.EPERM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if derr := sb.Client().Do(func() error { err = sendRoutedAs(uid, tc.via, tc.dst); return nil }); derr != nil {
				t.Fatal(derr)
			}
			if err != tc.want {
				t.Errorf("send to %v = %v, want %v", tc.dst, err, tc.want)
			}
		})
	}
}

// sendRoutedAs sends one UDP datagram to [dst]:53 from a socket whose
// owner is uid (created with that fsuid on this locked thread), through
// via first with a segment routing header unless via is invalid. The
// kernel makes dst the last segment and sends the packet to via.
func sendRoutedAs(uid int, via, dst netip.Addr) error {
	prev, _ := unix.SetfsuidRetUid(uid)
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	unix.Setfsuid(prev)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if via.IsValid() {
		if err := unix.SetsockoptString(fd, unix.IPPROTO_IPV6, unix.IPV6_RTHDR, string(segmentRouting(via))); err != nil {
			return err
		}
	}
	return unix.Sendto(fd, []byte("x"), 0, &unix.SockaddrInet6{Addr: dst.As16(), Port: 53})
}

// segmentRouting is an IPV6_RTHDR value: a type-4 segment routing header
// (RFC 8754) of two segments, segments left 1: segment 1 is hop (the
// packet's first destination), segment 0 the kernel fills in with the
// socket's destination.
func segmentRouting(hop netip.Addr) []byte {
	h := hop.As16()
	b := []byte{0, 4, 4, 1, 1, 0, 0, 0} // next header (set by the kernel), length in 8 bytes past the first 8, type 4, segments left, last entry, flags, tag
	b = append(b, make([]byte, 16)...)
	return append(b, h[:]...)
}
