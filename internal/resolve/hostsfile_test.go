package resolve

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestLookupHostsFile answers from the hosts file only: a name that is not
// there has no addresses and no error (no DNS query is made: no server).
func TestLookupHostsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(path, []byte("192.168.1.30 printer.lan printer\nfd00::30 printer.lan\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := &DNS{HostsPath: path, Servers: []string{"192.0.2.1:53"}}
	got, err := d.LookupHostsFile("Printer.LAN.")
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Addr{netip.MustParseAddr("192.168.1.30"), netip.MustParseAddr("fd00::30")}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got, err := d.LookupHostsFile("nas.lan"); err != nil || len(got) != 0 {
		t.Errorf("nas.lan: %v, %v; want none", got, err)
	}
}
