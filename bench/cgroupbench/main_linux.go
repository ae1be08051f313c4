// Command cgroupbench measures what the cgroup dispatch (units and
// cgroups subjects, compile/cgroups.go) costs per packet: the UDP packet
// rate of a sender in a governed cgroup with 10 and 10,000 governed
// cgroups, against the same rules reached without any cgroup subject
// (the sender judged by the everyone policy), in paired rounds (each
// round measures every configuration once, in turn; ratios are per round,
// the median and range reported).
//
//	sudo go run ./bench/cgroupbench [-rounds 9] [-d 500ms]
//
// Everything runs in throwaway network namespaces (leash-cgb-PID-N) on
// loopback, with one real cgroup (leash-cgb-PID/app below the cgroup2
// mount) that this process moves itself into while sending, and back.
// The other governed cgroups are made-up ids in the live sets: what the
// kernel looks up is the same.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/leash-dev/leash/internal/cgroups"
	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/hostcmd"
	"github.com/leash-dev/leash/internal/netns"
	"github.com/leash-dev/leash/internal/nft"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
)

const (
	port     = 5001
	policies = 10
)

func main() {
	rounds := flag.Int("rounds", 9, "paired rounds")
	d := flag.Duration("d", 500*time.Millisecond, "sending time per configuration and round")
	flag.Parse()
	if err := run(*rounds, *d); err != nil {
		fmt.Fprintln(os.Stderr, "cgroupbench:", err)
		os.Exit(1)
	}
}

type config struct {
	name     string
	governed int // 0: no cgroup subject at all
	policies int // program policies sharing them, the sender's last
	ns       *netns.NS
	rates    []float64
}

func run(rounds int, d time.Duration) error {
	fs, err := cgroups.Mount("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	top := fmt.Sprintf("leash-cgb-%d", os.Getpid())
	app := top + "/app"
	if err := os.MkdirAll(fs.Dir(app), 0o755); err != nil {
		return err
	}
	defer os.Remove(fs.Dir(top))
	defer os.Remove(fs.Dir(app))
	home, err := cgroups.Of("self")
	if err != nil {
		return err
	}
	configs := []*config{{name: "no cgroup subjects"},
		{name: "10 cgroups, 1 policy", governed: 10, policies: 1},
		{name: "10 cgroups, 10 policies", governed: 10, policies: policies},
		{name: "10,000 cgroups, 10 policies", governed: 10_000, policies: policies}}
	for i, c := range configs {
		ns, err := netns.Create(fmt.Sprintf("leash-cgb-%d-%d", os.Getpid(), i))
		if err != nil {
			return err
		}
		defer ns.Close()
		c.ns = ns
		if err := ns.Do(func() error { return linkUp() }); err != nil {
			return err
		}
		rs, err := compilePolicy(fs, top, c.governed, c.policies)
		if err != nil {
			return err
		}
		k, err := nft.OpenNetNS(ns.Name)
		if err != nil {
			return err
		}
		err = k.Apply(rs)
		k.Close()
		if err != nil {
			return fmt.Errorf("%s: apply: %w", c.name, err)
		}
	}
	// Sockets take the cgroup of the process that makes them: move in.
	if err := os.WriteFile(filepath.Join(fs.Dir(app), "cgroup.procs"), []byte(fmt.Sprint(os.Getpid())), 0); err != nil {
		return err
	}
	defer os.WriteFile(filepath.Join(fs.Dir(home), "cgroup.procs"), []byte(fmt.Sprint(os.Getpid())), 0)
	for r := 0; r < rounds; r++ {
		for _, c := range configs {
			rate, err := measure(c.ns, d)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			c.rates = append(c.rates, rate)
		}
	}
	fmt.Printf("UDP packet rate of a sender in a governed cgroup (loopback, %d rounds of %v; with several program policies the sender's is the last)\n", rounds, d)
	for _, c := range configs {
		ratios := make([]float64, rounds)
		for i := range ratios {
			ratios[i] = c.rates[i] / configs[0].rates[i]
		}
		slices.Sort(ratios)
		fmt.Printf("  %-30s median %8.0f pkt/s   ratio to none: median %.3f (range %.3f-%.3f)\n",
			c.name, median(c.rates), ratios[len(ratios)/2], ratios[0], ratios[len(ratios)-1])
	}
	pair := func(what string, a, b *config) {
		flat := make([]float64, rounds)
		for i := range flat {
			flat[i] = a.rates[i] / b.rates[i]
		}
		slices.Sort(flat)
		fmt.Printf("  %s (flat if 1): median %.3f (range %.3f-%.3f)\n", what, flat[rounds/2], flat[0], flat[rounds-1])
	}
	pair("10,000 vs 10 governed cgroups", configs[3], configs[2])
	pair("10 vs 1 program policies", configs[2], configs[1])
	return nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// compilePolicy is the benchmark policy: the same rules for the sender
// either as the everyone policy (governed 0) or as the last of n
// policies sharing governed cgroups below top, app being the sender's.
func compilePolicy(fs *cgroups.FS, top string, governed, n int) (*ruleset.Ruleset, error) {
	var b strings.Builder
	b.WriteString("version: 1\nbaseline: {loopback: rules, established: deny, unowned: allow}\npolicies:\n")
	rules := fmt.Sprintf("    rules:\n      - allow: {ports: [%d/udp]}\n    default: deny\n", port)
	tree := cgroups.Fake{}
	for _, p := range []string{"", top, top + "/app"} {
		id, ok, err := fs.ID(p)
		if err != nil || !ok {
			return nil, fmt.Errorf("cgroup %q: %v", p, err)
		}
		tree[p] = id
	}
	if governed == 0 {
		b.WriteString("  - name: sender\n    everyone: true\n" + rules)
	} else {
		paths := make([][]string, n)
		paths[n-1] = []string{top + "/app"}
		for i := 1; i < governed; i++ {
			p := fmt.Sprintf("%s/c%d", top, i)
			j := n - 1 // one policy: the sender's has them all
			if n > 1 {
				j = (i - 1) % (n - 1)
			}
			paths[j] = append(paths[j], p)
			tree[p] = 1<<40 + uint64(i) // made up: never a real cgroup's id
		}
		for i, ps := range paths {
			fmt.Fprintf(&b, "  - name: p%d\n    cgroups: [%s]\n%s", i, strings.Join(ps, ", "), rules)
		}
	}
	res, err := policy.Load(context.Background(), "bench.yaml", []byte(b.String()), policy.Env{Cgroups: tree})
	if err != nil {
		return nil, err
	}
	return compile.Compile(res), nil
}

// measure sends 16-byte datagrams to a receiver in ns for d and returns
// the rate received.
func measure(ns *netns.NS, d time.Duration) (float64, error) {
	var pc net.PacketConn
	if err := ns.Do(func() (err error) { pc, err = net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port)); return }); err != nil {
		return 0, err
	}
	defer pc.Close()
	got := make(chan int)
	go func() {
		n := 0
		buf := make([]byte, 64)
		for {
			pc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			if _, _, err := pc.ReadFrom(buf); err != nil {
				got <- n
				return
			}
			n++
		}
	}()
	var elapsed time.Duration
	err := ns.Do(func() error {
		c, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			return err
		}
		defer c.Close()
		msg := make([]byte, 16)
		start := time.Now()
		for time.Since(start) < d {
			for range 64 {
				if _, err := c.Write(msg); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
					return fmt.Errorf("send (denied?): %w", err)
				}
			}
		}
		elapsed = time.Since(start)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return float64(<-got) / elapsed.Seconds(), nil
}

// linkUp brings lo up; run in the namespace (netns.NS.Do).
func linkUp() error {
	_, err := hostcmd.Output(context.Background(), "ip", "link", "set", "lo", "up")
	return err
}
