//go:build linux

// Command logbench measures the denial log path: how many denied packets per
// second the kernel can log to NFLOG and leash's collector path (go-nflog
// reader, decode, coalesce, enrich, JSON-lines history) can take without
// losing any, and that every loss beyond that is counted.
//
// It creates one throwaway network namespace (leash-logbench-PID, removed on
// exit and on SIGINT/SIGTERM), applies a compiled policy there that denies
// and logs everything uid 100000 sends (log rate 1,000,000/second, the
// maximum, so the kernel's rate limit does not bind), and for each target
// rate sends UDP datagrams as that uid for -d, paced, each to a different
// local address and port (so every packet is a new attempt: the worst case
// for the collector). Per step it reports what was sent, what the kernel
// logged (the log rule's counter), what reached the pipeline, and what the
// kernel's sequence numbers say was lost.
//
// Run as root: go run ./bench/logbench (see bench/README.md). Nothing
// outside the namespace changes; the history goes to a temporary directory.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/leash-dev/leash/internal/denylog"
	"github.com/leash-dev/leash/internal/netns"
)

// config is the command line.
type config struct {
	rates   []int // packets per second; 0 = as fast as possible
	dur     time.Duration
	procs   bool
	verbose bool
}

func parseFlags() (config, error) {
	var c config
	rates := flag.String("rates", "2000,5000,10000,20000,50000,100000,0", "comma-separated target send rates in packets/s; 0 sends as fast as possible")
	flag.DurationVar(&c.dur, "d", 2*time.Second, "duration of one step")
	flag.BoolVar(&c.procs, "procs", true, "look up each attempt's process (sock_diag and /proc), as the collector does")
	flag.BoolVar(&c.verbose, "v", false, "log the pipeline's warnings")
	flag.Parse()
	for _, f := range strings.Split(*rates, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 {
			return c, fmt.Errorf("-rates: bad rate %q", f)
		}
		c.rates = append(c.rates, n)
	}
	if c.dur <= 0 || c.dur > time.Minute {
		return c, fmt.Errorf("-d must be in (0, 1m]")
	}
	return c, nil
}

func main() {
	c, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "logbench:", err)
		os.Exit(2)
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "logbench: needs root (namespaces, nftables, NFLOG)")
		os.Exit(1)
	}
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "logbench:", err)
		os.Exit(1)
	}
}

// run sets up the namespace and the collector path and measures each step.
func run(c config) error {
	ns, err := netns.Create(fmt.Sprintf("leash-logbench-%d", os.Getpid()))
	if err != nil {
		return err
	}
	defer ns.Close()
	stop := removeOnSignal(ns)
	defer stop()
	for _, args := range [][]string{{"link", "set", "lo", "up"}, {"route", "add", "local", targetNet, "dev", "lo"}} {
		if out, err := exec.Command("ip", append([]string{"-n", ns.Name}, args...)...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	tmp, err := os.MkdirTemp("", "leash-logbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	env, err := applyPolicy(ns, tmp)
	if err != nil {
		return err
	}
	path, err := startPath(c, ns, env, tmp)
	if err != nil {
		return err
	}
	defer path.close()

	fmt.Printf("logbench: %d s steps, every packet a new attempt, process lookup %v, kernel %s\n", int(c.dur.Seconds()), c.procs, kernelRelease())
	fmt.Printf("%10s %10s %10s %10s %10s %8s %10s %9s %9s\n", "target/s", "sent", "sent/s", "logged", "delivered", "lost", "deliv/s", "attempts", "no-lookup")
	for _, rate := range c.rates {
		st, err := path.step(ns, rate, c.dur)
		if err != nil {
			return err
		}
		st.print(rate, c.dur)
	}
	return path.finish()
}

// removeOnSignal removes ns and exits on SIGINT/SIGTERM; stop ends that.
func removeOnSignal(ns *netns.NS) (stop func()) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sig:
			fmt.Fprintf(os.Stderr, "logbench: %v: removing %s\n", s, ns.Name)
			ns.Close()
			os.Exit(130)
		case <-done:
		}
	}()
	return func() { signal.Stop(sig); close(done) }
}

func kernelRelease() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

// collectorPath is the reader, pipeline and history of a collector.
type collectorPath struct {
	reader  *denylog.Reader
	env     *benchEnv
	cancel  context.CancelFunc
	done    chan error
	events  atomic.Uint64 // deny records written
	packets atomic.Uint64 // packets in them (attempts)
	shed    atomic.Uint64 // of them, without process lookup (shed under load)
	lostRec atomic.Uint64 // lost messages reported in loss records
	closeFn func()
}

// startPath binds the group in ns and runs the pipeline into a history in
// dir, as `leash log collect` does.
func startPath(c config, ns *netns.NS, env *benchEnv, dir string) (*collectorPath, error) {
	log := slog.New(slog.DiscardHandler)
	if c.verbose {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	r, err := denylog.OpenReader(denylog.ReaderConfig{NetNS: ns.Name, Group: group, Log: log})
	if err != nil {
		return nil, err
	}
	h, err := denylog.OpenHistory(dir+"/log", denylog.HistoryLimits{})
	if err != nil {
		r.Close()
		return nil, err
	}
	en := &denylog.Enricher{Users: denylog.UserNames(env.dir), Rules: env.rules}
	closeFn := func() {}
	if c.procs {
		owners, err := denylog.OpenSocketOwners(ns.Name)
		if err != nil {
			r.Close()
			return nil, err
		}
		en.Processes, closeFn = owners, func() { owners.Close() }
	}
	p := denylog.NewPipeline(en, time.Now, log)
	ctx, cancel := context.WithCancel(context.Background())
	cp := &collectorPath{reader: r, env: env, cancel: cancel, done: make(chan error, 1), closeFn: closeFn}
	emit := func(rec denylog.Record) error {
		if rec.Event != nil {
			cp.events.Add(1)
			cp.packets.Add(uint64(rec.Event.Attempts))
			if strings.Contains(rec.Event.Note, "skipped under load") {
				cp.shed.Add(1)
			}
		} else {
			cp.lostRec.Add(rec.Loss.Lost)
		}
		return h.Write(rec)
	}
	go func() {
		err := p.Run(ctx, r, emit, h.Sync)
		cp.done <- errorsJoin(err, h.Close())
	}()
	return cp, nil
}

// stepResult is one step's deltas.
type stepResult struct {
	sent, logged             uint64
	delivered, lost, overrun uint64
	records, shed            uint64
	elapsed                  time.Duration
}

// step sends for d at rate, waits for the path to drain, sends one marker
// packet (its sequence number reveals a loss at the very end), waits until
// the step's attempts are written, and returns the deltas of the kernel's
// and the reader's counters and of the records written.
func (cp *collectorPath) step(ns *netns.NS, rate int, d time.Duration) (stepResult, error) {
	before, err := cp.env.logged(ns)
	if err != nil {
		return stepResult{}, err
	}
	c0, e0, s0 := cp.reader.Counters(), cp.events.Load(), cp.shed.Load()
	sent, elapsed, err := flood(ns, rate, d)
	if err != nil {
		return stepResult{}, err
	}
	time.Sleep(time.Second)
	if _, _, err := flood(ns, -1, 0); err != nil { // the marker
		return stepResult{}, err
	}
	time.Sleep(denylog.DefaultWindow + 2*denylog.DefaultTick) // attempts end and are written
	after, err := cp.env.logged(ns)
	if err != nil {
		return stepResult{}, err
	}
	c1 := cp.reader.Counters()
	return stepResult{
		sent: sent + 1, logged: after - before,
		delivered: c1.Received - c0.Received, lost: c1.Lost - c0.Lost, overrun: c1.Overruns - c0.Overruns,
		records: cp.events.Load() - e0, shed: cp.shed.Load() - s0, elapsed: elapsed,
	}, nil
}

func (s stepResult) print(rate int, d time.Duration) {
	target := "max"
	if rate > 0 {
		target = strconv.Itoa(rate)
	}
	secs := s.elapsed.Seconds()
	fmt.Printf("%10s %10d %10.0f %10d %10d %8d %10.0f %9d %9d", target, s.sent, float64(s.sent-1)/secs, s.logged, s.delivered, s.lost, float64(s.delivered-1)/secs, s.records, s.shed)
	if s.delivered+s.lost != s.logged {
		fmt.Printf("  MISMATCH: delivered+lost = %d", s.delivered+s.lost)
	}
	if s.overrun > 0 {
		fmt.Printf("  (%d overflow reports)", s.overrun)
	}
	fmt.Println()
}

// finish stops the pipeline (flushing open attempts into the history) and
// reports the totals.
func (cp *collectorPath) finish() error {
	cp.cancel()
	err := <-cp.done
	c := cp.reader.Counters()
	fmt.Printf("totals: reader received %d, lost %d (loss records say %d); history: %d attempts holding %d packets, %d without process lookup (shed under load)\n",
		c.Received, c.Lost, cp.lostRec.Load(), cp.events.Load(), cp.packets.Load(), cp.shed.Load())
	if cp.lostRec.Load() != c.Lost {
		fmt.Println("MISMATCH: loss records do not add up to the reader's lost counter")
	}
	return err
}

func (cp *collectorPath) close() {
	cp.cancel()
	cp.reader.Close()
	cp.closeFn()
}
