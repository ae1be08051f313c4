package resolve

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func TestStatic(t *testing.T) {
	r := Static(map[string][]netip.Addr{
		"Mail.Example.com.": addrs("192.0.2.25", "2001:db8::25", "192.0.2.25"),
	})
	tests := []struct {
		name    string
		host    string
		want    []netip.Addr
		wantErr bool
	}{
		{name: "exact case-insensitive", host: "mail.example.com", want: addrs("192.0.2.25", "2001:db8::25")},
		{name: "trailing dot", host: "MAIL.example.com.", want: addrs("192.0.2.25", "2001:db8::25")},
		{name: "unknown", host: "nope.example.com", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.LookupHost(context.Background(), tt.host)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			var nf *NotFoundError
			if tt.wantErr && !errors.As(err, &nf) {
				t.Errorf("err %v is not a *NotFoundError", err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDNS(t *testing.T) {
	server := startServer(t, serverOptions{zone: map[string][]string{
		"mail.example.com.": {
			"mail.example.com. 300 IN A 192.0.2.25",
			"mail.example.com. 60 IN AAAA 2001:db8::25",
			"mail.example.com. 300 IN A 192.0.2.26",
		},
		"v4only.example.com.": {"v4only.example.com. 100 IN A 192.0.2.4"},
		"empty.example.com.":  {},
	}}).addr
	hosts := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hosts, []byte("# hosts\n192.0.2.99 pinned.example.com pinned\nbogus line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &DNS{HostsPath: hosts, Servers: []string{server}, Timeout: 2 * time.Second}
	tests := []struct {
		name     string
		host     string
		want     []netip.Addr
		wantTTL  time.Duration
		notFound bool
		wantErr  bool
	}{
		{name: "A and AAAA, min TTL", host: "mail.example.com", want: addrs("192.0.2.25", "192.0.2.26", "2001:db8::25"), wantTTL: 60 * time.Second},
		{name: "fqdn", host: "v4only.example.com.", want: addrs("192.0.2.4"), wantTTL: 100 * time.Second},
		{name: "hosts file wins", host: "PINNED", want: addrs("192.0.2.99")},
		{name: "nxdomain", host: "nope.example.com", notFound: true, wantErr: true},
		{name: "no records", host: "empty.example.com", notFound: true, wantErr: true},
		{name: "servfail", host: "fail.test", wantErr: true},
		{name: "bad name", host: "a..b", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ttl, err := r.LookupHostTTL(context.Background(), tt.host)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			var nf *NotFoundError
			if errors.As(err, &nf) != tt.notFound {
				t.Errorf("err %v: NotFoundError = %v, want %v", err, !tt.notFound, tt.notFound)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if ttl != tt.wantTTL {
				t.Errorf("ttl = %v, want %v", ttl, tt.wantTTL)
			}
		})
	}
}
