package sockdiag_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/leash-dev/leash/internal/netns"
	"github.com/leash-dev/leash/internal/sockdiag"
	"github.com/leash-dev/leash/internal/sockdiag/sockdiagtest"
)

// holderUID owns the holder's sockets; it needs no passwd entry.
const holderUID = 64411

var addrPortCmp = cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })

// TestListAndFind: a process of another uid holds TCP and connected UDP
// sockets over IPv4 and IPv6 inside a namespace; List finds them with that
// uid and their inodes, and Find finds each one by its tuple.
func TestListAndFind(t *testing.T) {
	ns := sockdiagtest.NS(t, "sockdiag")
	l4 := sockdiagtest.ListenTCP(t, ns, "127.0.0.1:0")
	l6 := sockdiagtest.ListenTCP(t, ns, "[::1]:0")
	ap := netip.MustParseAddrPort
	targets := []sockdiagtest.Target{
		{Proto: sockdiag.TCP, Addr: l4}, {Proto: sockdiag.TCP, Addr: l6},
		{Proto: sockdiag.UDP, Addr: ap("127.0.0.1:9")}, {Proto: sockdiag.UDP, Addr: ap("[::1]:9")},
	}
	sockdiagtest.Hold(t, ns, holderUID, holderUID, targets...)

	c, err := sockdiag.Dial(sockdiag.WithNetNS(ns.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	all, err := c.List(ctx, sockdiag.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var held []sockdiag.Socket
	for _, s := range all {
		if s.UID == holderUID {
			held = append(held, s)
		}
	}
	type summary struct {
		Proto  sockdiag.Proto
		Family sockdiag.Family
		Dst    netip.AddrPort
		State  sockdiag.State
	}
	var got []summary
	for _, s := range held {
		got = append(got, summary{s.Proto, s.Family, s.Dst, s.State})
		if s.Inode == 0 || s.Cookie == 0 || !s.Connected() {
			t.Errorf("socket %+v: want an inode, a cookie and a peer", s)
		}
	}
	want := []summary{
		{sockdiag.TCP, sockdiag.IPv4, l4, sockdiag.Established},
		{sockdiag.TCP, sockdiag.IPv6, l6, sockdiag.Established},
		{sockdiag.UDP, sockdiag.IPv4, ap("127.0.0.1:9"), sockdiag.Established},
		{sockdiag.UDP, sockdiag.IPv6, ap("[::1]:9"), sockdiag.Established},
	}
	if diff := cmp.Diff(want, got, addrPortCmp); diff != "" {
		t.Fatalf("sockets of uid %d (-want +got):\n%s", holderUID, diff)
	}

	for _, s := range held {
		found, err := c.Find(ctx, s.Proto, s.Src, s.Dst)
		if err != nil {
			t.Errorf("Find(%v, %v, %v): %v", s.Proto, s.Src, s.Dst, err)
			continue
		}
		if diff := cmp.Diff(s, found, addrPortCmp); diff != "" {
			t.Errorf("Find(%v, %v, %v) (-listed +found):\n%s", s.Proto, s.Src, s.Dst, diff)
		}
	}

	// The listeners are there too, in state listen.
	listening, err := c.List(ctx, sockdiag.Filter{Protos: []sockdiag.Proto{sockdiag.TCP}, States: sockdiag.StatesOf(sockdiag.Listen)})
	if err != nil {
		t.Fatal(err)
	}
	var ports []uint16
	for _, s := range listening {
		ports = append(ports, s.Src.Port())
	}
	if diff := cmp.Diff([]uint16{l4.Port(), l6.Port()}, ports); diff != "" {
		t.Errorf("listening ports (-want +got):\n%s", diff)
	}

	// No such socket.
	for _, p := range []sockdiag.Proto{sockdiag.TCP, sockdiag.UDP} {
		_, err := c.Find(ctx, p, ap("127.0.0.1:1"), ap("127.0.0.1:2"))
		if !errors.Is(err, sockdiag.ErrNotFound) {
			t.Errorf("Find(%v) of a socket that does not exist: %v, want ErrNotFound", p, err)
		}
	}
}

// TestFindIPv6SocketTalkingIPv4: the tuple of an IPv4 packet finds the IPv6
// socket that sent it (dual stack, IPv4-mapped addresses).
func TestFindIPv6SocketTalkingIPv4(t *testing.T) {
	ns := sockdiagtest.NS(t, "sockdiag")
	l4 := sockdiagtest.ListenTCP(t, ns, "127.0.0.1:0")
	var fd int
	err := ns.Do(func() (err error) {
		fd, err = unix.Socket(unix.AF_INET6, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		mapped := netip.AddrFrom16(l4.Addr().As16()) // ::ffff:127.0.0.1
		return unix.Connect(fd, &unix.SockaddrInet6{Addr: mapped.As16(), Port: int(l4.Port())})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	local := sa.(*unix.SockaddrInet6)
	src := netip.AddrPortFrom(netip.AddrFrom16(local.Addr).Unmap(), uint16(local.Port))

	s, st := findTCP(t, ns, src, l4, fd)
	if s.Family != sockdiag.IPv6 || s.Inode != st.Ino || s.Dst.Addr().Unmap() != l4.Addr() {
		t.Errorf("Find(%v -> %v) = %+v; want the IPv6 socket with inode %d", src, l4, s, st.Ino)
	}
}

// TestNamespaces: sockets of a namespace are not listed from another one.
func TestNamespaces(t *testing.T) {
	a := sockdiagtest.NS(t, "sockdiag")
	b := sockdiagtest.NS(t, "sockdiag")
	l := sockdiagtest.ListenTCP(t, a, "127.0.0.1:0")
	for _, ns := range []struct {
		name string
		fd   int
		want int
	}{{a.Name, a.Fd(), 1}, {b.Name, b.Fd(), 0}} {
		c, err := sockdiag.Dial(sockdiag.WithNetNS(ns.fd))
		if err != nil {
			t.Fatal(err)
		}
		socks, err := c.List(context.Background(), sockdiag.Filter{Protos: []sockdiag.Proto{sockdiag.TCP}})
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, s := range socks {
			if s.Src == l {
				n++
			}
		}
		if n != ns.want {
			t.Errorf("namespace %s lists %d sockets on %v, want %d", ns.name, n, l, ns.want)
		}
	}
}

// TestFindUnconnectedUDP: a datagram sent with sendto from an unconnected
// socket is traced back to that socket, as the kernel would deliver a reply.
func TestFindUnconnectedUDP(t *testing.T) {
	ns := sockdiagtest.NS(t, "sockdiag")
	var conn net.PacketConn
	if err := ns.Do(func() (err error) { conn, err = net.ListenPacket("udp", "0.0.0.0:0"); return err }); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	port := uint16(conn.LocalAddr().(*net.UDPAddr).Port)
	c, err := sockdiag.Dial(sockdiag.WithNetNS(ns.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	src := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
	s, err := c.Find(context.Background(), sockdiag.UDP, src, netip.MustParseAddrPort("127.0.0.1:53"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Src.Port() != port || s.Connected() || s.State != sockdiag.Close {
		t.Errorf("Find = %+v; want the unconnected socket on port %d", s, port)
	}
}

// TestFindSynSent: a connection attempt nobody answers (as when leash drops
// it) is found by its tuple while it is still trying, in state syn-sent.
func TestFindSynSent(t *testing.T) {
	ns := sockdiagtest.NS(t, "sockdiag")
	// 192.0.2.0/24 is on one end of a veth pair whose other end has no
	// address: nobody answers ARP for .25, and the socket keeps trying.
	for _, args := range [][]string{
		{"link", "add", "v0", "type", "veth", "peer", "name", "v1"},
		{"addr", "add", "192.0.2.10/24", "dev", "v0"},
		{"link", "set", "v0", "up"},
		{"link", "set", "v1", "up"},
	} {
		if out, err := exec.Command("ip", append([]string{"-n", ns.Name}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	dst := netip.MustParseAddrPort("192.0.2.25:80")
	var fd int
	err := ns.Do(func() (err error) {
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		if err := unix.Connect(fd, &unix.SockaddrInet4{Addr: dst.Addr().As4(), Port: int(dst.Port())}); err != unix.EINPROGRESS {
			return fmt.Errorf("connect: %v, want EINPROGRESS", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	local := sa.(*unix.SockaddrInet4)
	src := netip.AddrPortFrom(netip.AddrFrom4(local.Addr), uint16(local.Port))
	s, st := findTCP(t, ns, src, dst, fd)
	if s.State != sockdiag.SynSent || s.Inode != st.Ino || s.UID != 0 {
		t.Errorf("Find(%v -> %v) = %+v; want syn-sent, inode %d, uid 0", src, dst, s, st.Ino)
	}
}

// findTCP looks up the TCP socket src -> dst in ns and stats fd, the
// test's own descriptor of it, for its inode.
func findTCP(t *testing.T, ns *netns.NS, src, dst netip.AddrPort, fd int) (sockdiag.Socket, unix.Stat_t) {
	t.Helper()
	c, err := sockdiag.Dial(sockdiag.WithNetNS(ns.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.Find(context.Background(), sockdiag.TCP, src, dst)
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	return s, st
}
