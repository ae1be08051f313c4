package netns

import (
	"fmt"
	"net"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/leash-dev/leash/internal/kerneltest"
)

func TestCreateDoClose(t *testing.T) {
	kerneltest.Require(t)
	name := fmt.Sprintf("leash-nstest-%d", os.Getpid())
	ns, err := Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()

	var inside []net.Interface
	if err := ns.Do(func() error {
		var err error
		inside, err = net.Interfaces()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(inside) != 1 || inside[0].Name != "lo" {
		t.Errorf("interfaces in new namespace = %v, want only lo", inside)
	}
	var self, inner unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &self); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat(ns.Path(), &inner); err != nil {
		t.Fatal(err)
	}
	if self.Ino == inner.Ino {
		t.Errorf("calling thread is inside the test namespace after Do")
	}
	if err := ns.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ns.Path()); !os.IsNotExist(err) {
		t.Errorf("%s still exists after Close: %v", ns.Path(), err)
	}
	if err := ns.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestOpenDoesNotRemove(t *testing.T) {
	kerneltest.Require(t)
	ns, err := Create(fmt.Sprintf("leash-nstest-open-%d", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	borrowed, err := Open(ns.Name)
	if err != nil {
		t.Fatal(err)
	}
	if err := borrowed.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ns.Path()); err != nil {
		t.Errorf("closing a borrowed handle removed the namespace: %v", err)
	}
}

func TestDoIn(t *testing.T) {
	kerneltest.Require(t)
	ns, err := Create(fmt.Sprintf("leash-nstest-doin-%d", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	nsInode := func() uint64 {
		var st unix.Stat_t
		if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
			t.Fatal(err)
		}
		return st.Ino
	}
	var want unix.Stat_t
	if err := unix.Stat(ns.Path(), &want); err != nil {
		t.Fatal(err)
	}
	here := nsInode()
	tests := []struct {
		name string
		in   string
		want uint64
	}{
		{name: "empty name: the current namespace", in: "", want: here},
		{name: "named namespace", in: ns.Name, want: want.Ino},
	}
	for _, tt := range tests {
		var got uint64
		if err := DoIn(tt.in, func() error { got = nsInode(); return nil }); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got != tt.want {
			t.Errorf("%s: fn ran in namespace inode %d, want %d", tt.name, got, tt.want)
		}
	}
	if err := DoIn("leash-nstest-missing", func() error { return nil }); err == nil {
		t.Error("DoIn of a missing namespace succeeded")
	}
}

// TestIdentify: the host's namespace is Init; a named one is known by its
// name, also from a thread inside it.
func TestIdentify(t *testing.T) {
	kerneltest.Require(t)
	host, err := Identify("")
	if err != nil {
		t.Fatal(err)
	}
	if !host.Init || host.Inode == 0 {
		t.Errorf("Identify(\"\") = %+v, want the host's namespace", host)
	}
	name := fmt.Sprintf("leash-ident-%d", os.Getpid())
	ns, err := Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	named, err := Identify(name)
	if err != nil || named.Init || named.Name != name || named.Inode == host.Inode {
		t.Fatalf("Identify(%q) = %+v, %v", name, named, err)
	}
	var inside Identity
	if err := ns.Do(func() (err error) { inside, err = Identify(""); return err }); err != nil {
		t.Fatal(err)
	}
	if inside != named {
		t.Errorf("Identify from inside = %+v, want %+v", inside, named)
	}
}
