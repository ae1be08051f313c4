// Command daemonbench measures the idle cost of `leash daemon`: its
// resident memory once it has applied a policy and settled, the CPU it
// uses over an idle period, and one metrics scrape (the kernel counter
// read). Each policy runs in its own throwaway network namespace
// (leashbench-daemon-PID-N) and state directory under /tmp, both removed
// afterwards; hostnames resolve through a DNS stub on 127.0.0.1 that
// answers every name with 192.0.2.53 and 2001:db8::53. Needs root.
//
//	go build -o bench/out/leash ./cmd/leash
//	go run ./bench/daemonbench -leash bench/out/leash -idle 30s examples/*.yaml users100k
//
// "users100k" is the 100,000-user policy of bench/genpolicy (users 100000
// 1000), written to the state directory.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"github.com/leash-dev/leash/bench/benchpolicy"
	"github.com/leash-dev/leash/internal/netns"
)

func main() {
	leash := flag.String("leash", "bench/out/leash", "the leash binary")
	idle := flag.Duration("idle", 30*time.Second, "idle period over which CPU is measured")
	passwd := flag.String("passwd", "examples/demo/passwd", "user database for the policies (--passwd)")
	group := flag.String("group", "examples/demo/group", "group database (--group)")
	extra := flag.String("daemon-flags", "", "more flags for leash daemon, space-separated (--no-log --repair-every 1m)")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: daemonbench [-leash BIN] [-idle 30s] POLICY.yaml... [users100k]")
		os.Exit(2)
	}
	srv, addr, err := dnsStub()
	if err != nil {
		fmt.Fprintln(os.Stderr, "daemonbench:", err)
		os.Exit(1)
	}
	defer srv.Shutdown()
	clkTck := 100.0 // USER_HZ on Linux
	fmt.Printf("leash daemon %s, idle %s\n", *extra, *idle)
	fmt.Printf("%-28s %10s %10s %12s %10s %12s %10s\n", "policy", "ready", "RSS MB", "after scrape", "HWM MB", "CPU % idle", "scrape")
	failed := false
	for i, p := range flag.Args() {
		r, err := runOne(i, p, *leash, addr, *passwd, *group, strings.Fields(*extra), *idle)
		if err != nil {
			fmt.Fprintf(os.Stderr, "daemonbench: %s: %v\n", p, err)
			failed = true
			continue
		}
		cpu := float64(r.cpuTicks) / clkTck / idle.Seconds() * 100
		fmt.Printf("%-28s %9.2fs %10.1f %12.1f %10.1f %11.3f%% %9.0fms\n", filepath.Base(p), r.ready.Seconds(), mb(r.rss), mb(r.rssScraped), mb(r.hwm), cpu, float64(r.scrape.Microseconds())/1000)
	}
	if failed {
		os.Exit(1)
	}
}

func mb(kb int) float64 { return float64(kb) / 1024 }

type result struct {
	ready           time.Duration
	rss, rssScraped int // kB
	hwm             int // kB
	cpuTicks        int // utime+stime over the idle period
	scrape          time.Duration
}

func runOne(i int, policy, leash, resolver, passwd, group string, extra []string, idle time.Duration) (res result, err error) {
	ns, err := netns.Create(fmt.Sprintf("leashbench-daemon-%d-%d", os.Getpid(), i))
	if err != nil {
		return res, err
	}
	defer ns.Close()
	sd, err := os.MkdirTemp("", "leashbench-daemon-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(sd)
	if policy == "users100k" {
		policy = filepath.Join(sd, "users100k.yaml")
		y := benchpolicy.ListedUsers{Users: 100000, Policies: 1000, Rules: 100, PerRule: 1000}.YAML()
		if err := os.WriteFile(policy, y, 0o644); err != nil {
			return res, err
		}
	}
	if policy, err = filepath.Abs(policy); err != nil {
		return res, err
	}
	sock := filepath.Join(sd, "metrics.sock")
	args := []string{"--netns", ns.Name, "--state-dir", filepath.Join(sd, "state"), "--resolver", resolver,
		"--passwd", passwd, "--group", group, "daemon", "--metrics", "unix:" + sock}
	cmd := exec.Command(leash, append(append(args, extra...), policy)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return res, err
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if err != nil {
			err = fmt.Errorf("%w\ndaemon stderr:\n%s", err, stderr.String())
		}
	}()
	hc := &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			return res, errors.New("the daemon was not ready within 5 minutes")
		}
		if body, err := scrape(hc); err == nil && strings.Contains(body, "\nleash_daemon_ready 1\n") {
			break
		}
		if cmd.ProcessState != nil {
			return res, errors.New("the daemon exited")
		}
	}
	res.ready = time.Since(start)
	time.Sleep(5 * time.Second) // let the garbage collector return what applying took
	pid := cmd.Process.Pid
	if res.rss, _, err = memory(pid); err != nil {
		return res, err
	}
	t0, err := cpuTicks(pid)
	if err != nil {
		return res, err
	}
	time.Sleep(idle)
	t1, err := cpuTicks(pid)
	if err != nil {
		return res, err
	}
	res.cpuTicks = t1 - t0
	began := time.Now()
	if _, err := scrape(hc); err != nil {
		return res, err
	}
	res.scrape = time.Since(began)
	res.rssScraped, res.hwm, err = memory(pid)
	return res, err
}

func scrape(hc *http.Client) (string, error) {
	resp, err := hc.Get("http://leash/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// memory reads VmRSS and VmHWM (kB) of pid.
func memory(pid int) (rss, hwm int, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		switch fields[0] {
		case "VmRSS:":
			rss, _ = strconv.Atoi(fields[1])
		case "VmHWM:":
			hwm, _ = strconv.Atoi(fields[1])
		}
	}
	return rss, hwm, sc.Err()
}

// cpuTicks is utime+stime of pid (all its threads), in clock ticks.
func cpuTicks(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, err1 := strconv.Atoi(fields[11]) // field 14 of stat
	k, err2 := strconv.Atoi(fields[12]) // field 15
	return u + k, errors.Join(err1, err2)
}

// dnsStub answers every A and AAAA query on 127.0.0.1 (UDP and TCP).
func dnsStub() (*dns.Server, string, error) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		for _, qq := range q.Question {
			hdr := dns.RR_Header{Name: qq.Name, Class: dns.ClassINET, Ttl: 300, Rrtype: qq.Qtype}
			switch qq.Qtype {
			case dns.TypeA:
				m.Answer = append(m.Answer, &dns.A{Hdr: hdr, A: net.ParseIP("192.0.2.53")})
			case dns.TypeAAAA:
				m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr, AAAA: net.ParseIP("2001:db8::53")})
			}
		}
		w.WriteMsg(m)
	})
	srv := &dns.Server{PacketConn: pc, Handler: h}
	go srv.ActivateAndServe()
	return srv, pc.LocalAddr().String(), nil
}
