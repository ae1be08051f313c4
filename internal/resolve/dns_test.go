package resolve

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// zone is the test servers' data: a.example and b.example, v4 and v6.
var zone = map[string][]string{
	"a.example.": {"a.example. 60 IN A 192.0.2.1", "a.example. 60 IN AAAA 2001:db8::1"},
	"b.example.": {"b.example. 60 IN A 192.0.2.2"},
}

// mustResolve looks host up with r and fails the test unless it resolves.
func mustResolve(t *testing.T, r *DNS, host string) {
	t.Helper()
	addrs, err := r.LookupHost(context.Background(), host)
	if err != nil || len(addrs) == 0 {
		t.Fatalf("LookupHost(%s) = %v, %v", host, addrs, err)
	}
}

func TestRetryAfterLostDatagram(t *testing.T) {
	s := startServer(t, serverOptions{zone: zone, dropFirst: true})
	r := &DNS{NoHosts: true, Servers: []string{s.addr}, Timeout: 200 * time.Millisecond, Attempts: 2}
	mustResolve(t, r, "a.example")
	if udp, _ := s.counts(); udp != 4 {
		t.Errorf("server saw %d UDP queries, want 4 (A and AAAA, each twice)", udp)
	}

	// With one attempt, the lost datagram is a failure that says so.
	s = startServer(t, serverOptions{zone: zone, dropFirst: true})
	r = &DNS{NoHosts: true, Servers: []string{s.addr}, Timeout: 200 * time.Millisecond, Attempts: 1}
	_, err := r.LookupHost(context.Background(), "a.example")
	var na *NoAnswerError
	if !errors.As(err, &na) || !strings.Contains(err.Error(), "no answer from "+s.addr+" (timeout)") {
		t.Errorf("err = %v, want a *NoAnswerError naming %s (timeout)", err, s.addr)
	}
}

func TestDeadServerFirst(t *testing.T) {
	dead, drain := deadServer(t)
	s := startServer(t, serverOptions{zone: zone})
	r := &DNS{NoHosts: true, Servers: []string{dead, s.addr}, Timeout: 200 * time.Millisecond, Attempts: 1}
	mustResolve(t, r, "a.example")
	// Later queries start with the server that answered.
	for range 5 {
		mustResolve(t, r, "b.example")
	}
	if n := drain(); n != 2 {
		t.Errorf("the dead server got %d datagrams, want 2 (the first lookup's A and AAAA)", n)
	}
}

func TestServfailFallsThrough(t *testing.T) {
	bad := startServer(t, serverOptions{servfail: true})
	good := startServer(t, serverOptions{zone: zone})
	r := &DNS{NoHosts: true, Servers: []string{bad.addr, good.addr}, Timeout: time.Second, Attempts: 1}
	mustResolve(t, r, "a.example")

	r = &DNS{NoHosts: true, Servers: []string{bad.addr}, Timeout: time.Second, Attempts: 2}
	_, err := r.LookupHost(context.Background(), "a.example")
	if want := "no answer from " + bad.addr + " (SERVFAIL)"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want it to say %q", err, want)
	}
	// 2, then A and AAAA twice each; the last of them may be cancelled
	// once the lookup has failed on the other.
	if udp, _ := bad.counts(); udp != 2+4 && udp != 2+3 {
		t.Errorf("the SERVFAIL server got %d queries, want 6 (2, then A and AAAA twice), or 5", udp)
	}
}

func TestTruncatedFallsBackToTCP(t *testing.T) {
	s := startServer(t, serverOptions{zone: zone, truncate: true})
	r := &DNS{NoHosts: true, Servers: []string{s.addr}, Timeout: time.Second}
	got, err := r.LookupHost(context.Background(), "a.example")
	if diff := cmp.Diff(addrs("192.0.2.1", "2001:db8::1"), got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); err != nil || diff != "" {
		t.Fatalf("LookupHost: err %v, (-want +got):\n%s", err, diff)
	}
	if udp, tcp := s.counts(); udp != 2 || tcp != 2 {
		t.Errorf("server saw %d UDP and %d TCP queries, want 2 and 2", udp, tcp)
	}
}

func TestRotate(t *testing.T) {
	for _, rotate := range []bool{false, true} {
		t.Run(fmt.Sprintf("rotate=%v", rotate), func(t *testing.T) {
			s1, s2 := startServer(t, serverOptions{zone: zone}), startServer(t, serverOptions{zone: zone})
			r := &DNS{NoHosts: true, Servers: []string{s1.addr, s2.addr}, Timeout: time.Second, Rotate: rotate}
			for range 10 {
				mustResolve(t, r, "a.example")
			}
			n1, _ := s1.counts()
			n2, _ := s2.counts()
			want1, want2 := 20, 0
			if rotate {
				want1, want2 = 10, 10
			}
			if n1 != want1 || n2 != want2 {
				t.Errorf("servers got %d and %d queries, want %d and %d", n1, n2, want1, want2)
			}
		})
	}
}

// TestDeadlineBoundsBatch: a thousand names behind two dead servers fail
// together once the overall deadline passes, with one error that says how
// many and why, instead of one timeout after another.
func TestDeadlineBoundsBatch(t *testing.T) {
	dead1, _ := deadServer(t)
	dead2, _ := deadServer(t)
	r := &DNS{NoHosts: true, Servers: []string{dead1, dead2}, Timeout: 300 * time.Millisecond, Attempts: 2,
		Deadline: 1500 * time.Millisecond}
	hosts := make([]string, 1000)
	for i := range hosts {
		hosts[i] = fmt.Sprintf("h%d.example", i)
	}
	start := time.Now()
	results, err := LookupAll(context.Background(), r, hosts)
	// Without the deadline this takes 1000 × 2 × 2 × 300ms / parallelism;
	// the margin is for a loaded machine.
	if elapsed := time.Since(start); elapsed > 20*time.Second {
		t.Errorf("LookupAll took %v, want about the 1.5s deadline", elapsed)
	}
	want := fmt.Sprintf("1000 hostnames could not be resolved within --dns-timeout 1.5s: no answer from %s (timeout), %s (timeout)", dead1, dead2)
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant  %s", err, want)
	}
	if len(results) != len(hosts) {
		t.Fatalf("%d results for %d hosts", len(results), len(hosts))
	}
	for i, res := range results {
		var na *NoAnswerError
		if !errors.As(res.Err, &na) {
			t.Fatalf("result %d: err = %v, want a *NoAnswerError", i, res.Err)
		}
	}
	last := results[len(results)-1].Err.Error()
	if !strings.Contains(last, "--dns-timeout 1.5s ran out") {
		t.Errorf("last name's error %q does not name the deadline", last)
	}
}

func TestCancelStopsWaiting(t *testing.T) {
	dead, _ := deadServer(t)
	r := &DNS{NoHosts: true, Servers: []string{dead}, Timeout: 20 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := r.LookupHost(ctx, "a.example")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("cancelled lookup took %v, want about 100ms", elapsed)
	}
}

func TestParseResolvConf(t *testing.T) {
	tests := []struct {
		name, content string
		want          config
	}{
		{name: "defaults", content: "nameserver 192.0.2.53\n",
			want: config{servers: []string{"192.0.2.53:53"}, timeout: 5 * time.Second, attempts: 2}},
		{name: "options, first three servers",
			content: "# comment\nsearch example.com\nnameserver 192.0.2.1\nnameserver 2001:db8::1\nnameserver 192.0.2.3\nnameserver 192.0.2.4\noptions timeout:1 attempts:3 rotate\n",
			want:    config{servers: []string{"192.0.2.1:53", "[2001:db8::1]:53", "192.0.2.3:53"}, timeout: time.Second, attempts: 3, rotate: true}},
		{name: "glibc caps", content: "nameserver 192.0.2.1\noptions timeout:99 attempts:9\n",
			want: config{servers: []string{"192.0.2.1:53"}, timeout: 30 * time.Second, attempts: 5}},
		{name: "several options lines", content: "options ndots:2\nnameserver 192.0.2.1\noptions rotate\n",
			want: config{servers: []string{"192.0.2.1:53"}, timeout: 5 * time.Second, attempts: 2, rotate: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseResolvConf([]byte(tt.content))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(config{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(conf, []byte("nameserver 192.0.2.1\noptions timeout:2 attempts:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.conf")
	if err := os.WriteFile(empty, []byte("search example.com\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		d       *DNS
		want    config
		wantErr string
	}{
		{name: "resolv.conf", d: &DNS{ResolvConfPath: conf},
			want: config{servers: []string{"192.0.2.1:53"}, timeout: 2 * time.Second, attempts: 1}},
		{name: "fields override", d: &DNS{ResolvConfPath: conf, Timeout: time.Second, Attempts: 4, Rotate: true},
			want: config{servers: []string{"192.0.2.1:53"}, timeout: time.Second, attempts: 4, rotate: true}},
		{name: "servers skip resolv.conf", d: &DNS{ResolvConfPath: filepath.Join(dir, "missing"), Servers: []string{"127.0.0.1:5353"}},
			want: config{servers: []string{"127.0.0.1:5353"}, timeout: 5 * time.Second, attempts: 2}},
		{name: "missing", d: &DNS{ResolvConfPath: filepath.Join(dir, "missing")}, wantErr: "no such file"},
		{name: "no nameserver", d: &DNS{ResolvConfPath: empty}, wantErr: "lists no nameserver"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.d.loadConfig()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(config{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestResolvConfFollowed: a long-running resolver (leash daemon's) asks
// the servers resolv.conf lists now: a rewrite in place, a rename over it
// (DHCP clients, NetworkManager) and a symlink moved to another file are
// all seen at the next lookup; an unchanged file is not read again.
func TestResolvConfFollowed(t *testing.T) {
	dir := t.TempDir()
	write := func(name, server string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("nameserver "+server+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	conf := filepath.Join(dir, "resolv.conf")
	d := &DNS{ResolvConfPath: conf}
	servers := func() string {
		t.Helper()
		got, err := d.ServerAddrs()
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(got)
	}
	write("resolv.conf", "192.0.2.1")
	if got := servers(); got != "[192.0.2.1:53]" {
		t.Fatalf("servers = %s, want 192.0.2.1:53", got)
	}
	// Rewritten in place (a longer line: another size).
	write("resolv.conf", "192.0.2.222")
	if got := servers(); got != "[192.0.2.222:53]" {
		t.Errorf("after a rewrite: servers = %s, want 192.0.2.222:53", got)
	}
	// Renamed over.
	if err := os.Rename(write("new", "198.51.100.3"), conf); err != nil {
		t.Fatal(err)
	}
	if got := servers(); got != "[198.51.100.3:53]" {
		t.Errorf("after a rename: servers = %s, want 198.51.100.3:53", got)
	}
	// A symlink that moves to another file (systemd-resolved's stub).
	link := filepath.Join(dir, "link.conf")
	if err := os.Symlink(write("stub", "127.0.0.53"), link); err != nil {
		t.Fatal(err)
	}
	d = &DNS{ResolvConfPath: link}
	if got := servers(); got != "[127.0.0.53:53]" {
		t.Fatalf("through the symlink: servers = %s", got)
	}
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(write("uplink", "203.0.113.53"), link); err != nil {
		t.Fatal(err)
	}
	if got := servers(); got != "[203.0.113.53:53]" {
		t.Errorf("after the symlink moved: servers = %s, want 203.0.113.53:53", got)
	}
}
