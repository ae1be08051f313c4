package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/leash-dev/leash/bench/benchpolicy"
	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/drift"
	"github.com/leash-dev/leash/internal/nft"
	"github.com/leash-dev/leash/internal/ruleset"
)

// Rule lists (issue 16): the same allowed destinations written as 1, 10,
// 100 or 1,000 rules per policy (benchpolicy.BuildRules), measured in one
// run against no ruleset and against an expert's hand-written nft of the
// same policy, in three namespaces of the same path whose order rotates
// every round.

// rulesResult is one rule-list case: leash, the expert ruleset and no
// ruleset, per round, and the per-round ratios.
type rulesResult struct {
	Case   string   `json:"case"`
	Path   string   `json:"path"`
	Host   string   `json:"host"`
	Users  int      `json:"users"`
	Rules  int      `json:"rules"`
	Leash  []sample `json:"leash"`
	Expert []sample `json:"expert"`
	Bare   []sample `json:"bare"`
	// Ratios per round: leash/bare, expert/bare, leash/expert.
	UDPLeash, UDPExpert, UDPVsExpert spread
	TCPLeash, TCPExpert, TCPVsExpert spread
	// Counters of the measured policy: packets its last rule accepted,
	// packets the user sent, packets any denying rule of it took.
	Allowed  uint64 `json:"allowed"`
	Sent     uint64 `json:"sent"`     // UDP packets
	Connects uint64 `json:"connects"` // TCP connects (SYN, ACK, RST each)
	Dropped  uint64 `json:"dropped"`
}

// rotations are the orders of (leash, expert, bare) in successive rounds:
// each side is first, second and third equally often.
var rotations = [6][3]int{{0, 1, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}, {1, 0, 2}, {0, 2, 1}}

// runRules measures every users x rules case of cfg on one path and host.
func runRules(cfg config, rep *report, set setting, nss *namespaces) error {
	sides, err := nss.sides(set.Path, "leash", "expert", "bare")
	if err != nil {
		return err
	}
	if err := loadHost(set.Host, sides...); err != nil {
		return err
	}
	conn, err := nft.Open(nft.WithNetNS(sides[0].client.Fd()))
	if err != nil {
		return err
	}
	for _, users := range cfg.users {
		_, tgt := benchpolicy.BuildRules(benchpolicy.RulesSpec{Users: users, Rules: 1, Dests: cfg.dests})
		if err := loadRef(sides[1].client.Name, expertText(users, cfg.dests, cfg.expert)); err != nil {
			return fmt.Errorf("expert ruleset: %w", err)
		}
		for _, n := range cfg.rules {
			r, _ := benchpolicy.BuildRules(benchpolicy.RulesSpec{Users: users, Rules: n, Dests: cfg.dests})
			if err := conn.Apply(compile.Compile(r)); err != nil {
				return err
			}
			res := rulesResult{Case: fmt.Sprintf("rules=%d users=%d expert=%s", n, users, cfg.expert), Path: set.Path, Host: set.Host, Users: users, Rules: n}
			if err := rotatedRounds(cfg, sides, tgt.UID, &res); err != nil {
				// A measurement can fail for reasons of the machine (a connect
				// that times out under load): say so, measure the case again
				// once, and only then give up.
				fmt.Fprintf(os.Stderr, "egress: %s %s: %v; measuring it again\n", set, res.Case, err)
				res = rulesResult{Case: res.Case, Path: set.Path, Host: set.Host, Users: users, Rules: n}
				if err := rotatedRounds(cfg, sides, tgt.UID, &res); err != nil {
					return fmt.Errorf("%s: %w", res.Case, err)
				}
			}
			got, err := conn.Read()
			if err != nil {
				return err
			}
			res.Allowed, res.Dropped = ruleHits(got, tgt.Policy, n)
			rep.Rules = append(rep.Rules, res)
			// The figures as soon as they exist, so that a run cut short keeps them.
			fmt.Fprintf(os.Stderr, "egress: %s %s done: udp leash/bare %.3f expert/bare %.3f leash/expert %.3f; tcp %.3f %.3f %.3f; accepted %d dropped %d\n",
				set, res.Case, res.UDPLeash.Median, res.UDPExpert.Median, res.UDPVsExpert.Median,
				res.TCPLeash.Median, res.TCPExpert.Median, res.TCPVsExpert.Median, res.Allowed, res.Dropped)
		}
		if err := dropRef(sides[1].client.Name); err != nil {
			return err
		}
	}
	return conn.Reset()
}

// rotatedRounds warms the three sides up, then measures cfg.rounds rounds
// in rotating order and fills in res.
func rotatedRounds(cfg config, sides []route, uid uint32, res *rulesResult) error {
	for i, r := range sides {
		s, err := measure(r, uid, cfg.warmup)
		if err != nil {
			return err
		}
		if i == 0 {
			res.Sent += s.UDPSent
			res.Connects += s.TCPConn
		}
	}
	per := [3]*[]sample{&res.Leash, &res.Expert, &res.Bare}
	for i := range cfg.rounds {
		for _, k := range rotations[i%len(rotations)] {
			s, err := measure(sides[k], uid, cfg.dur)
			if err != nil {
				return err
			}
			*per[k] = append(*per[k], s)
		}
	}
	for _, s := range res.Leash {
		res.Sent += s.UDPSent
		res.Connects += s.TCPConn
	}
	res.UDPLeash = spreadOf(ratios(res.Leash, res.Bare, udpPPS))
	res.UDPExpert = spreadOf(ratios(res.Expert, res.Bare, udpPPS))
	res.UDPVsExpert = spreadOf(ratios(res.Leash, res.Expert, udpPPS))
	res.TCPLeash = spreadOf(ratios(res.Leash, res.Bare, tcpCPS))
	res.TCPExpert = spreadOf(ratios(res.Expert, res.Bare, tcpCPS))
	res.TCPVsExpert = spreadOf(ratios(res.Leash, res.Expert, tcpCPS))
	return nil
}

// ruleHits sums, over the chains of policy (its chain and its rules'
// verdict chains) and the map entries that carry its rules' verdicts (as
// drift.Counters counts them), the UDP packets the last rule (rN)
// accepted and what any denying rule took. The last rule holds the
// measured destinations.
func ruleHits(rs *ruleset.Ruleset, policy string, n int) (allowed, dropped uint64) {
	id := fmt.Sprintf("%s/r%d", policy, n)
	for _, cc := range drift.Counters(rs) {
		if cc.Chain != compile.ChainName(policy) {
			continue
		}
		for _, r := range cc.Rules {
			switch {
			case r.ID == id && r.Verdict == string(ruleset.Accept):
				allowed += r.Packets
			case r.Verdict == string(ruleset.Drop) || r.Verdict == "reject":
				dropped += r.Packets
			}
		}
	}
	return allowed, dropped
}

// The expert rulesets of the rule-list mode (-expert).
const (
	// expertShortcut accepts every packet of a known connection first
	// (`ct state established,related accept`): a policy change does not
	// cut a connection opened before it, which leash's policies do.
	expertShortcut = "shortcut"
	// expertSame does the work leash's compiled policy does: established
	// replies first (`ct direction reply accept`, leash's
	// `established: allow`), every original-direction packet judged by the
	// policy, IPv6 routing headers and IPv4 source routes dropped.
	expertSame = "same"
)

// expertText is the expert's ruleset for the rule-list policy of users
// users: established replies first, one uid verdict map (hash), and all
// allowed destinations merged into one interval set, then drop:
//
//	table inet benchref {
//	    set allow { type ipv4_addr; flags interval; elements = { ... } }
//	    map users { type uid : verdict; elements = { 100000 : jump allowed, ... } }
//	    chain output { type filter hook output priority 0; policy accept;
//	        ct state established,related accept
//	        meta skuid vmap @users }
//	    chain allowed { ip daddr @allow accept; drop }
//	}
//
// With kind expertSame the output chain starts with `ct direction reply
// accept` instead, and the allowed chain with the three drops of
// routing headers and source routes.
//
// With zero users every owned packet goes to the allowed chain.
func expertText(users, dests int, kind string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s {\n set allow {\n  type ipv4_addr\n  flags interval\n  elements = { ", refTable)
	all := append(benchpolicy.AllowPrefixes(dests), benchpolicy.Measured...)
	for i, p := range all {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p.String())
	}
	b.WriteString(" }\n }\n")
	dispatch := "  meta skuid >= 0 jump allowed\n"
	if users > 0 {
		b.WriteString(" map users {\n  type uid : verdict\n  elements = { ")
		for i := range users {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%d : jump allowed", benchpolicy.FirstUID+2*i)
		}
		b.WriteString(" }\n }\n")
		dispatch = "  meta skuid vmap @users\n"
	}
	established, hardening := "  ct state established,related accept\n", ""
	if kind == expertSame {
		established = "  ct direction reply accept\n"
		hardening = "  exthdr rt exists drop\n  ip option lsrr exists drop\n  ip option ssrr exists drop\n"
	}
	fmt.Fprintf(&b, " chain output {\n  type filter hook output priority 0; policy accept;\n%s%s }\n", established, dispatch)
	fmt.Fprintf(&b, " chain allowed {\n%s  ip daddr @allow accept\n  drop\n }\n}\n", hardening)
	return b.String()
}
