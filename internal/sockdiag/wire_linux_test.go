package sockdiag

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nltest"
	"golang.org/x/sys/unix"
)

// ne is a host-order u32 as the kernel writes it, in hex.
func ne(v uint32) string {
	b := binary.NativeEndian.AppendUint32(nil, v)
	return hex.EncodeToString(b)
}

// hexOf joins hex fragments, ignoring spaces.
func hexOf(parts ...string) string { return strings.ReplaceAll(strings.Join(parts, ""), " ", "") }

func TestMessages(t *testing.T) {
	v4 := func(s string) string { return hexOf(s, strings.Repeat("00", 12)) }
	tests := []struct {
		name      string
		msg       netlink.Message
		wantFlags netlink.HeaderFlags
		wantData  string
	}{
		{
			name:      "dump tcp ipv6 established and syn-sent",
			msg:       dumpMessage(TCP, IPv6, StatesOf(Established, SynSent)),
			wantFlags: netlink.Request | netlink.Dump,
			wantData:  hexOf("0a 06 00 00", ne(0b110), strings.Repeat("00", 48)),
		},
		{
			name:      "dump udp ipv4 all states",
			msg:       dumpMessage(UDP, IPv4, AllStates),
			wantFlags: netlink.Request | netlink.Dump,
			wantData:  hexOf("02 11 00 00", "ffffffff", strings.Repeat("00", 48)),
		},
		{
			name:      "find tcp ipv4: src is the local end",
			msg:       exactMessage(TCP, netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("192.0.2.25:25")),
			wantFlags: netlink.Request,
			wantData: hexOf("02 06 00 00", "ffffffff", "9c40 0019", v4("0a000001"), v4("c0000219"),
				ne(0), "ffffffff ffffffff"),
		},
		{
			name:      "find udp ipv4: the kernel wants the remote end in src",
			msg:       exactMessage(UDP, netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("192.0.2.53:53")),
			wantFlags: netlink.Request,
			wantData: hexOf("02 11 00 00", "ffffffff", "0035 9c40", v4("c0000235"), v4("0a000001"),
				ne(0), "ffffffff ffffffff"),
		},
		{
			name:      "find tcp with ipv4-mapped addresses is an ipv4 lookup",
			msg:       exactMessage(TCP, netip.MustParseAddrPort("[::ffff:10.0.0.1]:40000"), netip.MustParseAddrPort("[::ffff:192.0.2.25]:25")),
			wantFlags: netlink.Request,
			wantData: hexOf("02 06 00 00", "ffffffff", "9c40 0019", v4("0a000001"), v4("c0000219"),
				ne(0), "ffffffff ffffffff"),
		},
		{
			name:      "find tcp ipv6",
			msg:       exactMessage(TCP, netip.MustParseAddrPort("[2001:db8::1]:443"), netip.MustParseAddrPort("[2001:db8::2]:8443")),
			wantFlags: netlink.Request,
			wantData: hexOf("0a 06 00 00", "ffffffff", "01bb 20fb", "20010db8000000000000000000000001",
				"20010db8000000000000000000000002", ne(0), "ffffffff ffffffff"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.msg.Header.Type != unix.SOCK_DIAG_BY_FAMILY || tt.msg.Header.Flags != tt.wantFlags {
				t.Errorf("header type %d flags %v; want %d, %v", tt.msg.Header.Type, tt.msg.Header.Flags, unix.SOCK_DIAG_BY_FAMILY, tt.wantFlags)
			}
			if got := hex.EncodeToString(tt.msg.Data); got != tt.wantData {
				t.Errorf("data\n got %s\nwant %s", got, tt.wantData)
			}
			if len(tt.msg.Data) != sizeofReqV2 {
				t.Errorf("request of %d bytes, want %d", len(tt.msg.Data), sizeofReqV2)
			}
		})
	}
}

// diagMsg builds an inet_diag_msg with attributes, as the kernel sends it.
func diagMsg(t *testing.T, fam Family, state State, src, dst netip.AddrPort, uid, inode uint32, cookie uint64, attrs []netlink.Attribute) []byte {
	t.Helper()
	b := make([]byte, sizeofMsg)
	b[0], b[1] = uint8(fam), uint8(state)
	id := sockID{sport: src.Port(), dport: dst.Port(), ifindex: 3, cookie: [2]uint32{uint32(cookie), uint32(cookie >> 32)}}
	id.src, id.dst = wireAddr(fam, src.Addr()), wireAddr(fam, dst.Addr())
	id.put(b[4:])
	binary.NativeEndian.PutUint32(b[52:], 1234) // expires, queues: ignored
	binary.NativeEndian.PutUint32(b[64:], uid)
	binary.NativeEndian.PutUint32(b[68:], inode)
	if attrs != nil {
		b = append(b, nltest.MustMarshalAttributes(attrs)...)
	}
	return b
}

func TestDecodeSocket(t *testing.T) {
	ap := netip.MustParseAddrPort
	u64 := func(v uint64) []byte { return binary.NativeEndian.AppendUint64(nil, v) }
	u32 := func(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }
	attrs := []netlink.Attribute{
		{Type: 8, Data: []byte{0}},            // INET_DIAG_SHUTDOWN: skipped
		{Type: attrMark, Data: u32(0x42)},     // INET_DIAG_MARK
		{Type: attrCgroupID, Data: u64(7777)}, // INET_DIAG_CGROUP_ID
		{Type: 22, Data: []byte{0, 0}},        // INET_DIAG_SOCKOPT: skipped
	}
	tests := []struct {
		name    string
		proto   Proto
		data    []byte
		want    Socket
		wantErr bool
	}{
		{
			name: "tcp ipv4 with attributes", proto: TCP,
			data: diagMsg(t, IPv4, Established, ap("10.0.0.1:40000"), ap("192.0.2.25:25"), 2001, 98765, 0x1_0000_0002, attrs),
			want: Socket{Proto: TCP, Family: IPv4, Src: ap("10.0.0.1:40000"), Dst: ap("192.0.2.25:25"), State: Established,
				UID: 2001, Inode: 98765, Cookie: 0x1_0000_0002, Interface: 3, CgroupID: 7777, Mark: 0x42},
		},
		{
			name: "udp ipv6 unconnected without attributes", proto: UDP,
			data: diagMsg(t, IPv6, Close, ap("[::]:5353"), ap("[::]:0"), 0, 5, 9, nil),
			want: Socket{Proto: UDP, Family: IPv6, Src: ap("[::]:5353"), Dst: ap("[::]:0"), State: Close, Inode: 5, Cookie: 9, Interface: 3},
		},
		{
			name: "ipv6 socket talking ipv4 keeps mapped addresses", proto: TCP,
			data: diagMsg(t, IPv6, SynSent, ap("[::ffff:10.0.0.1]:40000"), ap("[::ffff:192.0.2.25]:25"), 1, 2, 3, nil),
			want: Socket{Proto: TCP, Family: IPv6, Src: ap("[::ffff:10.0.0.1]:40000"), Dst: ap("[::ffff:192.0.2.25]:25"),
				State: SynSent, UID: 1, Inode: 2, Cookie: 3, Interface: 3},
		},
		{name: "short", proto: TCP, data: make([]byte, sizeofMsg-1), wantErr: true},
		{name: "unknown family", proto: TCP, data: make([]byte, sizeofMsg), wantErr: true},
		{
			name: "truncated attribute", proto: TCP, wantErr: true,
			data: append(diagMsg(t, IPv4, Established, ap("10.0.0.1:1"), ap("10.0.0.2:2"), 0, 0, 0, nil), 8, 0, 21, 0),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeSocket(tt.proto, tt.data)
			if (err != nil) != tt.wantErr {
				t.Fatalf("decodeSocket error = %v, want error %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
				t.Errorf("decodeSocket (-want +got):\n%s", diff)
			}
		})
	}
}

// fakeNetlink lets the fake kernel's netlink socket ignore deadlines.
type fakeNetlink struct{ *netlink.Conn }

func (fakeNetlink) SetDeadline(time.Time) error { return nil }

// errReply is the kernel's NLMSG_ERROR answer to reqs[0]. (nltest.Error
// echoes the request's flags, and a dump's NLM_F_MATCH reads as "extended
// ack follows" in an error message.)
func errReply(errno unix.Errno, reqs []netlink.Message) ([]netlink.Message, error) {
	msgs, err := nltest.Error(int(errno), reqs)
	for i := range msgs {
		msgs[i].Header.Flags = 0
	}
	return msgs, err
}

func TestConnAgainstFakeKernel(t *testing.T) {
	ap := netip.MustParseAddrPort
	kernel := func(reqs []netlink.Message) ([]netlink.Message, error) {
		r := reqs[0]
		if r.Header.Flags&netlink.Dump == 0 { // exact lookups: nothing found
			return errReply(unix.ENOENT, reqs)
		}
		fam, proto := Family(r.Data[0]), Proto(r.Data[1])
		var out []netlink.Message
		switch {
		case proto == UDPLite:
			return errReply(unix.ENOENT, reqs)
		case proto == TCP && fam == IPv4:
			for i := range 2 {
				d := diagMsg(t, IPv4, Established, ap("10.0.0.1:40000"), ap("192.0.2.25:25"), 2001, uint32(100+i), 0, nil)
				out = append(out, netlink.Message{Header: netlink.Header{Type: unix.SOCK_DIAG_BY_FAMILY}, Data: d})
			}
		case proto == UDP && fam == IPv6:
			d := diagMsg(t, IPv6, Established, ap("[2001:db8::1]:5000"), ap("[2001:db8::53]:53"), 2002, 200, 0, nil)
			out = append(out, netlink.Message{Header: netlink.Header{Type: unix.SOCK_DIAG_BY_FAMILY}, Data: d})
		}
		// A dump ends with NLMSG_DONE (payload: error 0), all parts multi.
		out = append(out, netlink.Message{Header: netlink.Header{Type: netlink.Done}, Data: make([]byte, 4)})
		for i := range out {
			out[i].Header.Flags |= netlink.Multi
			out[i].Header.Sequence, out[i].Header.PID = r.Header.Sequence, r.Header.PID
		}
		return out, nil
	}
	c := &Conn{nl: fakeNetlink{nltest.Dial(kernel)}}
	defer c.Close()
	ctx := context.Background()
	socks, err := c.List(ctx, Filter{Protos: []Proto{TCP, UDP, UDPLite}})
	if err != nil {
		t.Fatal(err)
	}
	var got []uint64
	for _, s := range socks {
		got = append(got, s.Inode)
	}
	if diff := cmp.Diff([]uint64{100, 101, 200}, got); diff != "" {
		t.Errorf("List inodes (-want +got):\n%s", diff)
	}
	_, err = c.Find(ctx, TCP, ap("10.0.0.1:1"), ap("10.0.0.2:2"))
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("Find of a missing socket: %v, want ErrNotFound", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.List(canceled, Filter{}); !errors.Is(err, context.Canceled) {
		t.Errorf("List with a canceled context: %v, want context.Canceled", err)
	}
}

func TestStates(t *testing.T) {
	tests := []struct {
		set   States
		state State
		want  bool
	}{
		{set: 0, state: Listen, want: true},
		{set: AllStates, state: TimeWait, want: true},
		{set: StatesOf(Established, SynSent), state: SynSent, want: true},
		{set: StatesOf(Established, SynSent), state: Listen, want: false},
	}
	for _, tt := range tests {
		if got := tt.set.Has(tt.state); got != tt.want {
			t.Errorf("%#x.Has(%v) = %v, want %v", tt.set, tt.state, got, tt.want)
		}
	}
	if got := StatesOf(Established, SynSent); got != 0b110 {
		t.Errorf("StatesOf(established, syn-sent) = %#b, want 0b110", got)
	}
	names := []string{Established.String(), Listen.String(), TimeWait.String(), State(99).String(), TCP.String(), UDP.String(), Proto(1).String()}
	want := []string{"established", "listen", "time-wait", "state-99", "tcp", "udp", "proto-1"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
}
