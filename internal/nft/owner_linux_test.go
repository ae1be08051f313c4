package nft

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// nftIn runs nft in ns and returns its combined output and error.
func nftIn(nsName string, args ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", nsName, "nft"}, args...)...).CombinedOutput()
	return string(out), err
}

// TestOwnership proves the kernel rules the daemon's ownership is built on
// (kernel 6.18): an owning Conn's table cannot be changed, deleted or
// flushed by anyone else while the Conn is open; closing it leaves the
// table in force, orphaned (flags persist, no owner), changeable by anyone;
// and a new owning Conn takes it over with a replace.
func TestOwnership(t *testing.T) {
	ns, plain := newNS(t)
	own, err := Open(WithNetNS(ns.Fd()), Owning())
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	rs := sample()
	if err := own.Apply(rs); err != nil {
		t.Fatal(err)
	}
	// nft 1.0.6 prints no owner or persist flag, only the owner's name.
	if out := list(t, ns); !strings.Contains(out, "# progname nft.test") {
		t.Fatalf("nft does not show the owner:\n%.200s", out)
	}
	if o, err := own.Ownership(); err != nil || !o.Mine || !o.Persist {
		t.Fatalf("Ownership() = %+v, %v; want mine and persistent", o, err)
	}
	if mine, err := plain.Owns(); err != nil || mine {
		t.Fatalf("plain Owns() = %v, %v; want false", mine, err)
	}

	// Nobody else may change it.
	if err := plain.Apply(rs); !errors.Is(err, ErrNotOwner) || !errors.Is(err, unix.EPERM) {
		t.Errorf("plain Apply on an owned table: %v; want ErrNotOwner (EPERM)", err)
	}
	if err := plain.Reset(); !errors.Is(err, ErrNotOwner) {
		t.Errorf("plain Reset on an owned table: %v; want ErrNotOwner", err)
	}
	if out, err := nftIn(ns.Name, "delete", "table", "inet", "leash"); err == nil || !strings.Contains(out, "Operation not permitted") {
		t.Errorf("nft delete table: %v %s; want EPERM", err, out)
	}
	if out, err := nftIn(ns.Name, "flush", "ruleset"); err != nil {
		t.Errorf("nft flush ruleset: %v %s", err, out)
	}
	if out, err := nftIn(ns.Name, "add", "rule", "inet", "leash", "output", "accept"); err == nil {
		t.Errorf("nft add rule to an owned table succeeded: %s", out)
	}
	got, err := plain.Read()
	if err != nil || got == nil {
		t.Fatalf("after flush ruleset: Read() = %v, %v; want the table", got, err)
	}
	// The owner itself may change it again.
	if err := own.Apply(rs); err != nil {
		t.Fatalf("owner re-apply: %v", err)
	}

	// Closed (the daemon died): the table stays, orphaned.
	if err := own.Close(); err != nil {
		t.Fatal(err)
	}
	if o, err := plain.Ownership(); err != nil || !o.Exists || o.Owned || !o.Persist {
		t.Fatalf("orphaned table: Ownership() = %+v, %v; want persist only", o, err)
	}

	own2, err := Open(WithNetNS(ns.Fd()), Owning())
	if err != nil {
		t.Fatal(err)
	}
	defer own2.Close()
	// A new owner claims it in place (counters kept).
	if err := plain.Apply(rs); err != nil { // direct mode while no daemon runs
		t.Fatalf("direct apply on an orphan: %v", err)
	}
	if err := own2.Claim(); !errors.Is(err, unix.EOPNOTSUPP) {
		t.Errorf("claim of a plain table: %v; want EOPNOTSUPP (replace it instead)", err)
	}
	if err := own2.Apply(rs); err != nil {
		t.Fatalf("takeover by replace: %v", err)
	}
	own2.Close()
	own2, err = Open(WithNetNS(ns.Fd()), Owning())
	if err != nil {
		t.Fatal(err)
	}
	defer own2.Close()
	if err := own2.Claim(); err != nil {
		t.Fatalf("claim of an orphan: %v", err)
	}
	if mine, err := own2.Owns(); err != nil || !mine {
		t.Fatalf("after takeover Owns() = %v, %v", mine, err)
	}
	if err := plain.Apply(rs); !errors.Is(err, ErrNotOwner) {
		t.Errorf("plain Apply after takeover: %v; want ErrNotOwner", err)
	}

	// Another owner can neither claim nor replace it while own2 is open.
	own3, err := Open(WithNetNS(ns.Fd()), Owning())
	if err != nil {
		t.Fatal(err)
	}
	defer own3.Close()
	if err := own3.Claim(); err == nil {
		t.Error("a second owner claimed a table owned by a live socket")
	}
	if err := own3.Apply(rs); !errors.Is(err, ErrNotOwner) {
		t.Errorf("a second owner's Apply: %v; want ErrNotOwner", err)
	}
}

// TestLargeOwned: the owning socket carries a 100,000-entry replace, twice
// (the second replaces its own table), while a monitor watches; whether
// the monitor kept up or reported lost events is logged.
func TestLargeOwned(t *testing.T) {
	ns, plain := newNS(t)
	own, err := Open(WithNetNS(ns.Fd()), Owning())
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	changes := make(chan TableChange, 1024)
	go func() { _ = plain.Watch(ctx, changes) }()
	time.Sleep(50 * time.Millisecond) // let the monitor join its group
	rs := large(100_000)
	for i := range 2 {
		start := time.Now()
		if err := own.Apply(rs); err != nil {
			t.Fatalf("owned apply %d: %v", i+1, err)
		}
		t.Logf("owned apply %d: %v", i+1, time.Since(start))
	}
	if mine, err := own.Owns(); err != nil || !mine {
		t.Fatalf("Owns() = %v, %v", mine, err)
	}
	seen, lost := 0, 0
	for deadline := time.After(2 * time.Second); seen+lost < 2; {
		select {
		case ch := <-changes:
			if ch.Lost {
				lost++
			} else if ch.Self {
				seen++
			}
		case <-deadline:
			t.Fatalf("the monitor reported %d transactions and %d losses of 2", seen, lost)
		}
	}
	t.Logf("monitor: %d transactions seen, %d reported as lost events", seen, lost)
}
