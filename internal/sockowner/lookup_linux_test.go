package sockowner_test

import (
	"context"
	"net/netip"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/leash-dev/leash/internal/procinfo"
	"github.com/leash-dev/leash/internal/sandbox/sandboxtest"
	"github.com/leash-dev/leash/internal/sockdiag"
	"github.com/leash-dev/leash/internal/sockdiag/sockdiagtest"
	"github.com/leash-dev/leash/internal/sockowner"
)

// who is what a test compares of an owned socket.
type who struct {
	Proto sockdiag.Proto
	Dst   netip.AddrPort
	UID   uint32
	PIDs  []int
	Comm  string
	Exe   string
	PUID  uint32 // the process's uid
}

func summarize(o sockowner.Owned) who {
	w := who{Proto: o.Proto, Dst: o.Dst, UID: o.UID}
	for _, p := range o.Processes {
		w.PIDs = append(w.PIDs, p.PID)
		w.Comm, w.Exe, w.PUID = p.Comm, p.Exe, p.UID
	}
	return w
}

// TestListAndFind: a real user's process holds TCP and UDP connections over
// IPv4 and IPv6 in a namespace; List and Find return each with the user's
// uid and that process.
func TestListAndFind(t *testing.T) {
	users := sandboxtest.Users(t, sandboxtest.UserSpec{Name: "sockowner", UID: 64421})
	u := users[0]
	ns := sockdiagtest.NS(t, "sockowner")
	l4 := sockdiagtest.ListenTCP(t, ns, "127.0.0.1:0")
	l6 := sockdiagtest.ListenTCP(t, ns, "[::1]:0")
	u4, u6 := netip.MustParseAddrPort("127.0.0.1:53"), netip.MustParseAddrPort("[::1]:53")
	h := sockdiagtest.Hold(t, ns, u.UID, u.GID,
		sockdiagtest.Target{Proto: sockdiag.TCP, Addr: l4}, sockdiagtest.Target{Proto: sockdiag.TCP, Addr: l6},
		sockdiagtest.Target{Proto: sockdiag.UDP, Addr: u4}, sockdiagtest.Target{Proto: sockdiag.UDP, Addr: u6})

	l, err := sockowner.OpenNetNS(ns.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	all, err := l.List(ctx, sockdiag.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []who
	var held []sockowner.Owned
	for _, o := range all {
		if o.UID == u.UID {
			got = append(got, summarize(o))
			held = append(held, o)
		}
	}
	mk := func(p sockdiag.Proto, dst netip.AddrPort) who {
		return who{Proto: p, Dst: dst, UID: u.UID, PIDs: []int{h.PID}, Comm: "sleep", Exe: h.Exe, PUID: u.UID}
	}
	want := []who{mk(sockdiag.TCP, l4), mk(sockdiag.TCP, l6), mk(sockdiag.UDP, u4), mk(sockdiag.UDP, u6)}
	eq := cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })
	if diff := cmp.Diff(want, got, eq); diff != "" {
		t.Errorf("List: sockets of %s (-want +got):\n%s", u.Name, diff)
	}
	for _, o := range held {
		for name, find := range map[string]func(context.Context, sockdiag.Proto, netip.AddrPort, netip.AddrPort) (sockowner.Owned, error){
			"Find": l.Find, "FindFirst": l.FindFirst,
		} {
			f, err := find(ctx, o.Proto, o.Src, o.Dst)
			if err != nil {
				t.Errorf("%s(%v %v -> %v): %v", name, o.Proto, o.Src, o.Dst, err)
				continue
			}
			if diff := cmp.Diff(o, f, eq); diff != "" {
				t.Errorf("%s(%v %v -> %v) (-listed +found):\n%s", name, o.Proto, o.Src, o.Dst, diff)
			}
		}
	}
	// The process's identity in full, once.
	if len(held) > 0 {
		p := held[0].Processes[0]
		if p.Cmdline[0] != h.Exe || p.FSUID != u.UID || p.GID != u.GID {
			t.Errorf("process = %+v; want cmdline %s, fsuid %d, gid %d", p, h.Exe, u.UID, u.GID)
		}
	}
}

// TestProcessGone: a socket whose holder is not in the procfs comes back
// with no processes rather than an error.
func TestProcessGone(t *testing.T) {
	ns := sockdiagtest.NS(t, "sockowner")
	l4 := sockdiagtest.ListenTCP(t, ns, "127.0.0.1:0")
	diag, err := sockdiag.Dial(sockdiag.WithNetNS(ns.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	empty := &procinfo.Reader{FS: fstest.MapFS{}} // a procfs without processes
	l := sockowner.New(diag, empty)
	defer l.Close()
	all, err := l.List(context.Background(), sockdiag.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].Src != l4 || all[0].Processes != nil {
		t.Errorf("List = %+v; want the listener on %v without processes", all, l4)
	}
}

// BenchmarkFind is the denial log's lookup: one socket by its tuple, then a
// scan of this host's /proc for all its holders, or for the first (the
// holder is the newest process, as for a connection just attempted).
func BenchmarkFind(b *testing.B) {
	ns := sockdiagtest.NS(b, "sockowner")
	l4 := sockdiagtest.ListenTCP(b, ns, "127.0.0.1:0")
	h := sockdiagtest.Hold(b, ns, 64422, 64422, sockdiagtest.Target{Proto: sockdiag.TCP, Addr: l4})
	l, err := sockowner.OpenNetNS(ns.Name)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	all, err := l.List(ctx, sockdiag.Filter{Protos: []sockdiag.Proto{sockdiag.TCP}})
	if err != nil {
		b.Fatal(err)
	}
	var target sockowner.Owned
	for _, o := range all {
		if o.UID == 64422 {
			target = o
		}
	}
	for name, find := range map[string]func(context.Context, sockdiag.Proto, netip.AddrPort, netip.AddrPort) (sockowner.Owned, error){
		"all": l.Find, "first": l.FindFirst,
	} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				o, err := find(ctx, sockdiag.TCP, target.Src, target.Dst)
				if err != nil || len(o.Processes) != 1 || o.Processes[0].PID != h.PID {
					b.Fatalf("Find = %+v, %v; want the holder %d", o, err, h.PID)
				}
			}
		})
	}
}
