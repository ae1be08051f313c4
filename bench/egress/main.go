//go:build linux

// Command egress measures what leash's compiled policy costs per packet.
//
// For each path of the traffic (-path: loopback, or out through a veth pair
// of leash's sandbox) and each host setting (-host: bare, or a stateful
// host firewall in both namespaces) it creates a pair of throwaway network
// namespaces, "leash" (the compiled policy applied with internal/nft) and
// "bare" (no leash ruleset), and for each user count measures, in both, the
// UDP packet rate and the TCP connect rate of one user. Rounds alternate the
// order of the two namespaces (A,B then B,A) and the ratio leash/bare is
// taken per round; the report gives the median ratio and its range. It also
// times Compile and Apply of the largest policy, and measures hand-written
// reference rulesets (a linear list of owner rules, a uid verdict map,
// conntrack alone, and the parts of leash's packet path one at a time).
//
// Run as root: bench/run.sh. Nothing outside the namespaces it creates
// changes.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/leash-dev/leash/bench/benchpolicy"
	"golang.org/x/sys/unix"
)

// config is the command line.
type config struct {
	users     []int
	paths     []string
	hosts     []string
	noct      []int
	timed     []int // user counts of the variant with time windows and a per-user limit
	untagged  []int // user counts of the variant without the orphan tag
	cidrs     int
	rounds    int
	dur       time.Duration
	warmup    time.Duration
	refs      bool
	only      []string // reference names to measure; empty = all
	applyRuns int
	jsonPath  string
	rules     []int  // rule-list mode: rules per policy
	dests     int    // rule-list mode: allowed /24s
	expert    string // rule-list mode: which expert ruleset (expertShortcut or expertSame)
}

func parseFlags() (config, error) {
	var c config
	users := flag.String("users", "0,100,10000,100000", "comma-separated user counts")
	hosts := flag.String("host", hostBare+","+hostStateful, "comma-separated host firewalls present in both namespaces: "+
		hostBare+" (none: the bare namespace has no ruleset at all), "+hostStateful+" (a stateful input firewall in its own table, so conntrack is on in both)")
	paths := flag.String("path", pathLoopback, "comma-separated paths of the measured traffic: "+
		pathLoopback+" (to 127.0.0.1 in the namespace), "+pathVeth+" (out through a veth pair to a peer namespace)")
	untagged := flag.String("untagged-users", "", "user counts for the variant without the orphan tag (orphan_mark: off); empty for none")
	noct := flag.String("noct-users", "100000", "user counts for the variant without conntrack (established: deny, unowned: allow); empty for none")
	timed := flag.String("timed-users", "", "user counts for the variant with "+strconv.Itoa(benchpolicy.TimedRules)+
		" rules with closed time windows before the allow, which has a per-user limit (issue 13); empty for none")
	flag.IntVar(&c.cidrs, "cidrs", 100_000, "destination CIDRs in the measured policy's deny rule")
	flag.IntVar(&c.rounds, "rounds", 6, "rounds per case (each measures both namespaces; order alternates)")
	flag.DurationVar(&c.dur, "d", 750*time.Millisecond, "duration of one UDP or TCP measurement")
	flag.DurationVar(&c.warmup, "warmup", 200*time.Millisecond, "warm-up per case and namespace, not counted")
	flag.BoolVar(&c.refs, "refs", true, "also measure the reference rulesets")
	only := flag.String("only-refs", "", "comma-separated reference names to measure (default all); with -users '' only these")
	flag.IntVar(&c.applyRuns, "apply-runs", 3, "timed Apply runs of the largest policy (median reported)")
	flag.StringVar(&c.jsonPath, "json", "", "also write the full results as JSON to this file")
	rules := flag.String("rules", "", "rule-list mode (issue 16): comma-separated rules per policy, e.g. 1,10,100,1000; "+
		"measures, for every -users count, leash against no ruleset and an expert's ruleset of the same policy, instead of the other cases")
	flag.IntVar(&c.dests, "dests", 100_000, "rule-list mode: allowed IPv4 /24s over all rules of a policy")
	flag.StringVar(&c.expert, "expert", expertShortcut, "rule-list mode: the expert ruleset: "+
		expertShortcut+" (ct state established,related accept first) or "+expertSame+
		" (the same work as leash: established replies first, routing headers and IPv4 source routes dropped)")
	flag.Parse()
	var err error
	if c.users, err = counts("users", *users); err != nil {
		return c, err
	}
	if c.noct, err = counts("noct-users", *noct); err != nil {
		return c, err
	}
	if c.timed, err = counts("timed-users", *timed); err != nil {
		return c, err
	}
	if c.untagged, err = counts("untagged-users", *untagged); err != nil {
		return c, err
	}
	if c.rules, err = counts("rules", *rules); err != nil {
		return c, err
	}
	for _, n := range c.rules {
		if n < 1 {
			return c, fmt.Errorf("-rules: want at least 1 rule")
		}
	}
	if c.expert != expertShortcut && c.expert != expertSame {
		return c, fmt.Errorf("-expert: unknown expert ruleset %q (want %s or %s)", c.expert, expertShortcut, expertSame)
	}
	c.only = names(*only)
	c.paths = names(*paths)
	for _, p := range c.paths {
		if p != pathLoopback && p != pathVeth {
			return c, fmt.Errorf("-path: unknown path %q (want %s or %s)", p, pathLoopback, pathVeth)
		}
	}
	if len(c.paths) == 0 {
		return c, fmt.Errorf("-path: no path")
	}
	c.hosts = names(*hosts)
	for _, h := range c.hosts {
		if h != hostBare && h != hostStateful {
			return c, fmt.Errorf("-host: unknown host firewall %q (want %s or %s)", h, hostBare, hostStateful)
		}
	}
	if len(c.hosts) == 0 {
		return c, fmt.Errorf("-host: none given")
	}
	if len(c.users) == 0 && (!c.refs || len(c.only) == 0) {
		return c, fmt.Errorf("-users: no user count (an empty list needs -only-refs)")
	}
	if c.rounds < 1 || c.dur <= 0 || c.dur > 10*time.Second {
		return c, fmt.Errorf("-rounds must be >= 1 and -d in (0, 10s]")
	}
	return c, nil
}

// names splits a comma-separated list, dropping empty entries.
func names(list string) []string {
	var out []string
	for _, f := range strings.Split(list, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// counts parses a comma-separated list of non-negative counts.
func counts(name, list string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(list, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("-%s: bad count %q", name, f)
		}
		out = append(out, n)
	}
	return out, nil
}

func main() {
	if err := mainErr(); err != nil {
		fmt.Fprintln(os.Stderr, "egress:", err)
		os.Exit(1)
	}
}

func mainErr() error {
	cfg, err := parseFlags()
	if err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root (network namespaces, nftables, setfsuid)")
	}
	nss := &namespaces{}
	defer nss.Close()
	defer nss.removeOnSignal()()
	rep, err := runAll(cfg, nss)
	if err != nil {
		return err
	}
	printReport(os.Stdout, rep)
	if cfg.jsonPath != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return fmt.Errorf("json: %w", err)
		}
		if err := os.WriteFile(cfg.jsonPath, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("json: %w", err)
		}
	}
	return nss.Close()
}

// machine describes where the run happened.
func machine() (kernel string, cpus int) {
	var u unix.Utsname
	if err := unix.Uname(&u); err == nil {
		kernel = unix.ByteSliceToString(u.Release[:])
	}
	return kernel, runtime.NumCPU()
}
