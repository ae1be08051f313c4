package metrics

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leash-dev/leash/internal/clock"
	"github.com/leash-dev/leash/internal/denylog"
	"github.com/leash-dev/leash/internal/drift"
	"github.com/leash-dev/leash/internal/engine"
	"github.com/leash-dev/leash/internal/nft"
	"github.com/leash-dev/leash/internal/policy/policytest"
	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/state"
)

const webmail = `version: 1
policies:
  - name: webmail
    users: [apache]
    rules:
      - allow: {to: [192.0.2.10], ports: [25/tcp]}
    default: reject
  - name: offline
    users: [oracle]
    default: deny
`

// applied returns an engine over the fake kernel holding webmail, and the
// fake.
func applied(t *testing.T) (*engine.Engine, *nft.Fake) {
	t.Helper()
	k := nft.NewFake()
	e := &engine.Engine{
		Store:       &state.Store{Dir: filepath.Join(t.TempDir(), "state")},
		OpenKernel:  func() (engine.Kernel, error) { return k, nil },
		Clock:       clock.NewFake(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)),
		LockTimeout: time.Second,
	}
	ctx := context.Background()
	c, err := engine.Compile(ctx, policytest.Env(policytest.DefaultIDs), "/etc/leash/policy.yaml", []byte(webmail))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(ctx, c, engine.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	return e, k
}

// count sets every kernel rule of a rule id to packets and 100*packets bytes.
func count(k *nft.Fake, counts map[string]uint64) {
	k.Tamper(func(rs *ruleset.Ruleset) {
		for _, c := range rs.Chains {
			for _, r := range c.Rules {
				if n, ok := counts[r.Origin.ID]; ok {
					r.Packets, r.Bytes = n, 100*n
				}
			}
		}
	})
}

// scrape returns the metrics' text exposition, and its leash_ lines
// without help and type lines.
func scrape(t *testing.T, m *Metrics) (string, map[string]string) {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	samples := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "leash_") {
			i := strings.LastIndexByte(l, ' ')
			samples[l[:i]] = l[i+1:]
		}
	}
	return string(b), samples
}

func TestKernelCounters(t *testing.T) {
	e, k := applied(t)
	count(k, map[string]uint64{"webmail/r1": 3, "webmail/default": 2, "offline/default": 5})
	clk := clock.NewFake(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	reads := 0
	m := New(Options{Clock: clk, Counters: func() ([]drift.ChainCounters, error) { reads++; return e.Counters() }})
	_, got := scrape(t, m)
	want := map[string]string{
		`leash_policy_packets_total{policy="webmail",verdict="allowed"}`:                     "3",
		`leash_policy_packets_total{policy="webmail",verdict="denied"}`:                      "4", // TCP reset and ICMP reject
		`leash_policy_bytes_total{policy="webmail",verdict="denied"}`:                        "400",
		`leash_policy_packets_total{policy="offline",verdict="denied"}`:                      "5",
		`leash_rule_packets_total{policy="webmail",rule="webmail/r1",verdict="accept"}`:      "3",
		`leash_rule_bytes_total{policy="webmail",rule="webmail/r1",verdict="accept"}`:        "300",
		`leash_rule_packets_total{policy="webmail",rule="webmail/default",verdict="reject"}`: "4",
		`leash_rule_packets_total{policy="offline",rule="offline/default",verdict="drop"}`:   "5",
		`leash_table_loaded`:             "1",
		`leash_kernel_read_errors_total`: "0",
		`leash_rule_series_dropped`:      "0",
		`leash_daemon_up`:                "1",
		`leash_daemon_ready`:             "0",
	}
	for name, v := range want {
		if got[name] != v {
			t.Errorf("%s = %q, want %q", name, got[name], v)
		}
	}
	for name := range got {
		for _, bad := range []string{"uid", "addr", "host", "port"} {
			if strings.Contains(name, bad+"=") {
				t.Errorf("series %s has a per-%s label", name, bad)
			}
		}
	}

	// Within MinInterval a scrape reuses the last read.
	count(k, map[string]uint64{"webmail/r1": 7})
	_, got = scrape(t, m)
	if v := got[`leash_rule_packets_total{policy="webmail",rule="webmail/r1",verdict="accept"}`]; v != "3" || reads != 1 {
		t.Errorf("second scrape within MinInterval: r1 = %s after %d reads, want 3 after 1", v, reads)
	}
	clk.Advance(DefaultMinInterval)
	_, got = scrape(t, m)
	if v := got[`leash_rule_packets_total{policy="webmail",rule="webmail/r1",verdict="accept"}`]; v != "7" || reads != 2 {
		t.Errorf("scrape after MinInterval: r1 = %s after %d reads, want 7 after 2", v, reads)
	}

	// A failed read keeps the counters and counts the error; no table
	// reads as table_loaded 0.
	clk.Advance(DefaultMinInterval)
	m2 := New(Options{Clock: clk, Counters: func() ([]drift.ChainCounters, error) { return nil, errors.New("boom") }})
	_, got = scrape(t, m2)
	if got["leash_kernel_read_errors_total"] != "1" || got["leash_table_loaded"] != "0" {
		t.Errorf("failed read: errors %s loaded %s, want 1 and 0", got["leash_kernel_read_errors_total"], got["leash_table_loaded"])
	}
}

// A slow read is not repeated before ReadBudget times its duration.
func TestKernelReadBudget(t *testing.T) {
	e, _ := applied(t)
	clk := clock.NewFake(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	reads := 0
	m := New(Options{Clock: clk, Counters: func() ([]drift.ChainCounters, error) {
		reads++
		clk.Advance(2 * time.Second) // the read takes 2 s
		return e.Counters()
	}})
	scrape(t, m)
	clk.Advance(DefaultMinInterval)
	scrape(t, m)
	if reads != 1 {
		t.Errorf("%d reads %s after a 2 s read, want 1 (not before %s)", reads, DefaultMinInterval, ReadBudget*2*time.Second)
	}
	clk.Advance(ReadBudget * 2 * time.Second)
	_, got := scrape(t, m)
	if reads != 2 || got["leash_kernel_read_duration_seconds"] != "2" {
		t.Errorf("after %s: %d reads, duration %s; want 2 reads of 2 s", ReadBudget*2*time.Second, reads, got["leash_kernel_read_duration_seconds"])
	}
}

func TestRuleSeriesCap(t *testing.T) {
	e, _ := applied(t)
	m := New(Options{Counters: e.Counters, MaxRuleSeries: 2})
	_, got := scrape(t, m)
	n := 0
	for name := range got {
		if strings.HasPrefix(name, "leash_rule_packets_total{") {
			n++
		}
	}
	if n != 2 || got["leash_rule_series_dropped"] == "0" {
		t.Errorf("with MaxRuleSeries 2: %d rule series, dropped %s; want 2 and more than 0", n, got["leash_rule_series_dropped"])
	}
}

func TestHooks(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	m := New(Options{Clock: clk})
	m.Ready(true)
	m.Applied(TriggerFile, ResultChanged, 300*time.Millisecond)
	clk.Advance(time.Minute)
	m.Applied(TriggerFile, ResultFailed, time.Millisecond)
	m.Applied(TriggerReapply, ResultUnchanged, time.Millisecond)
	m.Repaired("missing", nil)
	m.Repaired("", nil)
	m.Repaired("", errors.New("lock timeout"))
	m.DNSRefreshed(nil, 5*time.Millisecond)
	m.DNSRefreshed(errors.New("SERVFAIL"), time.Second)
	m.Collecting(true)
	m.Logged(denylog.Record{Event: &denylog.Event{Verdict: "drop", Phase: denylog.PhaseFirst, Attempts: 1}})
	m.Logged(denylog.Record{Event: &denylog.Event{Verdict: "drop", Phase: denylog.PhaseMore, Attempts: 3}})
	m.Logged(denylog.Record{Event: &denylog.Event{Verdict: "reject", Phase: denylog.PhaseFirst, Attempts: 1}})
	m.Logged(denylog.Record{Event: &denylog.Event{Verdict: "bogus"}})
	m.Logged(denylog.Record{Loss: &denylog.Loss{Lost: 4, Overruns: 1}})
	var nilM *Metrics
	nilM.Applied(TriggerFile, ResultChanged, 0) // records nothing, never panics
	_, got := scrape(t, m)
	want := map[string]string{
		`leash_daemon_ready`: "1",
		`leash_applies_total{result="changed",trigger="file"}`:      "1",
		`leash_applies_total{result="failed",trigger="file"}`:       "1",
		`leash_applies_total{result="unchanged",trigger="reapply"}`: "1",
		`leash_applies_total{result="failed",trigger="reapply"}`:    "0",
		`leash_apply_duration_seconds_count{trigger="file"}`:        "2",
		`leash_policy_file_rejected`:                                "1",
		`leash_drift_repairs_total{was="missing"}`:                  "1",
		`leash_drift_repair_errors_total`:                           "1",
		`leash_dns_refresh_total{result="ok"}`:                      "1",
		`leash_dns_refresh_total{result="error"}`:                   "1",
		`leash_dns_refresh_duration_seconds_count`:                  "2",
		`leash_log_collector_active`:                                "1",
		`leash_denials_total{verdict="drop"}`:                       "1",
		`leash_denials_total{verdict="reject"}`:                     "1",
		`leash_denied_packets_logged_total{verdict="drop"}`:         "3",
		`leash_log_lost_total`:                                      "4",
		`leash_log_overruns_total`:                                  "1",
	}
	for name, v := range want {
		if got[name] != v {
			t.Errorf("%s = %q, want %q", name, got[name], v)
		}
	}
	if v, err := strconv.ParseFloat(got["leash_last_apply_success_timestamp_seconds"], 64); err != nil || int64(v) != clk.Now().Unix() {
		t.Errorf("leash_last_apply_success_timestamp_seconds = %v (%v), want %d (the unchanged reapply's time)", v, err, clk.Now().Unix())
	}
	if _, ok := got[`leash_denials_total{verdict="bogus"}`]; ok {
		t.Error("an unknown verdict made a series")
	}
}

func TestListen(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "metrics.sock")
	tests := []struct {
		name, addr string
		wantErr    bool
	}{
		{name: "ipv4 loopback", addr: "127.0.0.1:0"},
		{name: "localhost", addr: "localhost:0"},
		{name: "unix socket", addr: "unix:" + sock},
		{name: "unix socket again replaces the stale one", addr: "unix:" + sock},
		{name: "wildcard", addr: ":9425", wantErr: true},
		{name: "all addresses", addr: "0.0.0.0:9425", wantErr: true},
		{name: "lan address", addr: "10.200.0.1:9425", wantErr: true},
		{name: "relative socket", addr: "unix:metrics.sock", wantErr: true},
		{name: "no port", addr: "127.0.0.1", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Listen(tt.addr)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Listen(%q): err = %v, wantErr %t", tt.addr, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if strings.HasPrefix(tt.addr, "unix:") {
				fi, err := os.Stat(sock)
				if err != nil || fi.Mode().Perm() != 0o600 {
					t.Errorf("socket %s: %v, mode %v, want 0600", sock, err, fi.Mode().Perm())
				}
			}
			l.Close()
		})
	}
}

// Serve answers on a unix socket and stops with its context.
func TestServe(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "m.sock")
	l, err := Listen("unix:" + sock)
	if err != nil {
		t.Fatal(err)
	}
	m := New(Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx, l) }()
	c := http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	resp, err := c.Get("http://leash" + Path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "leash_daemon_up 1") {
		t.Errorf("served metrics lack leash_daemon_up 1:\n%s", b)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not stop with its context")
	}
}
