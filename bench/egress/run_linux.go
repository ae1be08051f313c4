package main

import (
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/leash-dev/leash/bench/benchpolicy"
	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/nft"
	"github.com/leash-dev/leash/internal/ruleset"
)

// report is the whole run.
type report struct {
	Kernel   string        `json:"kernel"`
	CPUs     int           `json:"cpus"`
	Rounds   int           `json:"rounds"`
	Duration time.Duration `json:"duration_ns"`
	CIDRs    int           `json:"cidrs"`
	Results  []result      `json:"results"`
	Apply    *applyTiming  `json:"apply,omitempty"`
	// Rules are the rule-list cases (-rules), against no ruleset and the
	// expert's ruleset.
	Rules []rulesResult `json:"rules,omitempty"`
}

// result is one case: a ruleset in the leash namespace against the bare one.
type result struct {
	Case  string   `json:"case"`
	Path  string   `json:"path"` // loopback or veth
	Host  string   `json:"host"` // bare or stateful
	Users int      `json:"users,omitempty"`
	Desc  string   `json:"desc"`
	Leash []sample `json:"leash"` // per round
	Bare  []sample `json:"bare"`  // per round, paired with Leash
	UDP   spread   `json:"udp_ratio"`
	TCP   spread   `json:"tcp_ratio"`
	// Counters of the measured policy (leash cases only), over all rounds
	// and the warm-up: packets the allow rule accepted, packets the user
	// sent, packets any dropping rule of the chain took.
	Hits *hits `json:"hits,omitempty"`
}

// hits are the kernel counters that prove the measured path.
type hits struct {
	Chain      string `json:"chain"`
	UDPAllow   uint64 `json:"udp_allow"`
	UDPSent    uint64 `json:"udp_sent"`
	TCPAllow   uint64 `json:"tcp_allow"`
	TCPConnect uint64 `json:"tcp_connects"`
	Dropped    uint64 `json:"dropped"`
}

// applyTiming is Compile and Apply of the largest policy.
type applyTiming struct {
	Users   int             `json:"users"`
	CIDRs   int             `json:"cidrs"`
	Compile time.Duration   `json:"compile_ns"`
	Fresh   []time.Duration `json:"apply_fresh_ns"`   // into a namespace without the table
	Replace []time.Duration `json:"apply_replace_ns"` // replacing the same table
}

// runAll measures every case over every path of cfg.
func runAll(cfg config, nss *namespaces) (*report, error) {
	kernel, cpus := machine()
	rep := &report{Kernel: kernel, CPUs: cpus, Rounds: cfg.rounds, Duration: cfg.dur, CIDRs: cfg.cidrs}
	for _, host := range cfg.hosts {
		for _, path := range cfg.paths {
			if len(cfg.rules) > 0 {
				if err := runRules(cfg, rep, setting{path, host}, nss); err != nil {
					return nil, fmt.Errorf("%s: %w", setting{path, host}, err)
				}
				continue
			}
			a, b, err := nss.pair(path)
			if err != nil {
				return nil, err
			}
			if err := loadHost(host, a, b); err != nil {
				return nil, err
			}
			if err := runPath(cfg, rep, setting{path, host}, a, b); err != nil {
				return nil, fmt.Errorf("%s: %w", setting{path, host}, err)
			}
		}
	}
	return rep, nil
}

// setting is what both namespaces of a case share: the traffic's path and
// the host firewall.
type setting struct{ Path, Host string }

func (s setting) String() string { return s.Path + "/" + s.Host }

// runPath measures every case with the ruleset under test in a's client
// namespace and no leash ruleset in b's.
func runPath(cfg config, rep *report, set setting, a, b route) error {
	conn, err := nft.Open(nft.WithNetNS(a.client.Fd()))
	if err != nil {
		return err
	}
	largest := -1
	if len(cfg.users) > 0 {
		largest = slices.Max(cfg.users)
	}
	var cases []benchpolicy.Spec
	for _, n := range cfg.users {
		cases = append(cases, benchpolicy.Spec{Users: n, CIDRs: cfg.cidrs})
	}
	for _, n := range cfg.noct {
		cases = append(cases, benchpolicy.Spec{Users: n, CIDRs: cfg.cidrs, NoConntrack: true})
	}
	for _, n := range cfg.timed {
		cases = append(cases, benchpolicy.Spec{Users: n, CIDRs: cfg.cidrs, Timed: true})
	}
	for _, n := range cfg.untagged {
		cases = append(cases, benchpolicy.Spec{Users: n, CIDRs: cfg.cidrs, Untagged: true})
	}
	for _, spec := range cases {
		timeApply := spec.Users == largest && !spec.NoConntrack && !spec.Timed && !spec.Untagged && rep.Apply == nil
		res, timing, err := leashCase(cfg, conn, a, b, spec, timeApply)
		if err != nil {
			return fmt.Errorf("%s: %w", caseName(spec), err)
		}
		res.Path, res.Host = set.Path, set.Host
		rep.Results = append(rep.Results, res)
		if timing != nil {
			rep.Apply = timing
		}
		fmt.Fprintf(os.Stderr, "egress: %s %s done\n", set, res.Case)
	}
	if err := conn.Reset(); err != nil {
		return err
	}
	if !cfg.refs {
		return nil
	}
	for _, ref := range references() {
		if len(cfg.only) > 0 && !slices.Contains(cfg.only, ref.Name) {
			continue
		}
		res, err := refCase(cfg, ref, a, b)
		if err != nil {
			// A reference that cannot be measured (a connect timing out on a
			// loaded machine) is reported and left out; the others go on.
			fmt.Fprintf(os.Stderr, "egress: %s %s: not measured: %v\n", set, ref.Name, err)
			dropRef(a.client.Name)
			continue
		}
		res.Path, res.Host = set.Path, set.Host
		rep.Results = append(rep.Results, res)
		fmt.Fprintf(os.Stderr, "egress: %s %s done: udp %.3f (%.3f-%.3f) tcp %.3f (%.3f-%.3f)\n", set, ref.Name,
			res.UDP.Median, res.UDP.Min, res.UDP.Max, res.TCP.Median, res.TCP.Min, res.TCP.Max)
	}
	return nil
}

// leashCase applies the compiled policy for n users in a and measures it
// against b. With timeApply it first times Compile and Apply.
func leashCase(cfg config, conn *nft.Conn, a, b route, spec benchpolicy.Spec, timeApply bool) (result, *applyTiming, error) {
	r, tgt := benchpolicy.Build(spec)
	n := spec.Users
	start := time.Now()
	rs := compile.Compile(r)
	compiled := time.Since(start)
	var timing *applyTiming
	if timeApply {
		var err error
		if timing, err = timeApplies(conn, rs, cfg.applyRuns); err != nil {
			return result{}, nil, err
		}
		timing.Users, timing.CIDRs, timing.Compile = n, cfg.cidrs, compiled
	}
	if err := conn.Apply(rs); err != nil { // also zeroes the counters
		return result{}, nil, err
	}
	res := result{
		Case: caseName(spec), Users: n,
		Desc: fmt.Sprintf("compiled policy, uid %d judged by chain %s", tgt.UID, compile.ChainName(tgt.Policy)),
	}
	warm, err := pairedRounds(cfg, a, b, tgt.UID, &res)
	if err != nil {
		return res, nil, err
	}
	got, err := conn.Read()
	if err != nil {
		return res, nil, err
	}
	res.Hits = countHits(got, tgt.Policy, tgt.Allow)
	for _, s := range append(res.Leash, warm) {
		res.Hits.UDPSent += s.UDPSent
		res.Hits.TCPConnect += s.TCPConn
	}
	return res, timing, nil
}

// caseName names a leash case in the report.
func caseName(s benchpolicy.Spec) string {
	if s.NoConntrack {
		return fmt.Sprintf("leash-noct users=%d", s.Users)
	}
	if s.Timed {
		return fmt.Sprintf("leash-timed users=%d", s.Users)
	}
	if s.Untagged {
		return fmt.Sprintf("leash-untagged users=%d", s.Users)
	}
	return fmt.Sprintf("leash users=%d", s.Users)
}

// refCase loads a reference ruleset into a and measures it against b.
func refCase(cfg config, ref reference, a, b route) (result, error) {
	const uid = benchpolicy.FirstUID
	if err := loadRef(a.client.Name, ref.Text(uid, cfg.cidrs)); err != nil {
		return result{}, err
	}
	res := result{Case: "ref " + ref.Name, Desc: ref.Desc}
	_, err := pairedRounds(cfg, a, b, uid, &res)
	if derr := dropRef(a.client.Name); err == nil {
		err = derr
	}
	return res, err
}

// pairedRounds warms both namespaces up, then runs cfg.rounds rounds of
// one measurement in each, alternating which goes first, and fills in the
// samples and ratios of res. It returns the leash namespace's warm-up.
func pairedRounds(cfg config, a, b route, uid uint32, res *result) (sample, error) {
	warm, err := measure(a, uid, cfg.warmup)
	if err != nil {
		return warm, err
	}
	if _, err := measure(b, uid, cfg.warmup); err != nil {
		return warm, err
	}
	for i := range cfg.rounds {
		order := []route{a, b}
		if i%2 == 1 {
			order = []route{b, a}
		}
		for _, r := range order {
			s, err := measure(r, uid, cfg.dur)
			if err != nil {
				return warm, err
			}
			if r == a {
				res.Leash = append(res.Leash, s)
			} else {
				res.Bare = append(res.Bare, s)
			}
		}
	}
	res.UDP = spreadOf(ratios(res.Leash, res.Bare, udpPPS))
	res.TCP = spreadOf(ratios(res.Leash, res.Bare, tcpCPS))
	return warm, nil
}

// countHits reads the counters of policy's chain: its rule 2 (the allow)
// for UDP and TCP, and every dropping or rejecting rule.
func countHits(rs *ruleset.Ruleset, policy, allow string) *hits {
	h := &hits{Chain: compile.ChainName(policy)}
	ch := rs.Chain(h.Chain)
	if ch == nil {
		return h
	}
	for _, r := range ch.Rules {
		switch {
		case r.Origin.ID == allow && hasProto(r, 17):
			h.UDPAllow += r.Packets
		case r.Origin.ID == allow && hasProto(r, 6):
			h.TCPAllow += r.Packets
		case r.Verdict.Terminal() && !r.Verdict.Allows():
			h.Dropped += r.Packets
		}
	}
	return h
}

func hasProto(r *ruleset.Rule, p uint32) bool {
	for _, m := range r.Match {
		if m.Kind == ruleset.MatchL4Proto && m.Value == p {
			return true
		}
	}
	return false
}

// timeApplies times Apply of rs runs times into a namespace without the
// table (after Reset) and runs times replacing it.
func timeApplies(conn *nft.Conn, rs *ruleset.Ruleset, runs int) (*applyTiming, error) {
	t := &applyTiming{}
	for range runs {
		if err := conn.Reset(); err != nil {
			return nil, err
		}
		start := time.Now()
		if err := conn.Apply(rs); err != nil {
			return nil, err
		}
		t.Fresh = append(t.Fresh, time.Since(start))
	}
	for range runs {
		start := time.Now()
		if err := conn.Apply(rs); err != nil {
			return nil, err
		}
		t.Replace = append(t.Replace, time.Since(start))
	}
	return t, nil
}
