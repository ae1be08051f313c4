// Package firewalls describes the other firewalls on the hooks leash uses:
// base chains of other nftables tables (ufw, firewalld, Docker, iptables-nft,
// a hand-written script) and legacy iptables tables, which nftables cannot
// show. A packet must pass every base chain on its hook: a drop anywhere is
// final, and leash's accept ends only leash's own chain. So when leash
// allows a connection, another table may still drop it; `leash check`,
// `status` and `plan` say so instead of claiming the kernel accepts it.
//
// The package is pure: internal/nft reads the chains (Conn.OtherChains) and
// the legacy table names.
package firewalls

import (
	"fmt"
	"sort"
)

// Chain is a base chain of a table other than leash's.
type Chain struct {
	Family   string `json:"family"` // ip, ip6, inet
	Table    string `json:"table"`
	Chain    string `json:"chain"`
	Hook     string `json:"hook"` // prerouting, input, forward, output, postrouting
	Priority int32  `json:"priority"`
	// Policy is the chain's verdict for packets no rule decides: accept or
	// drop.
	Policy string `json:"policy"`
	Rules  int    `json:"rules"`
	// Drops: some rule of the chain (or of a chain it jumps to, as far as
	// the reader follows) drops or rejects.
	Drops bool `json:"drops,omitempty"`
}

// Legacy is a table of legacy iptables (x_tables): its rules are invisible
// to nftables, so leash cannot tell what they do.
type Legacy struct {
	Family string `json:"family"` // ip (iptables) or ip6 (ip6tables)
	Table  string `json:"table"`  // filter, nat, mangle, raw, security
}

// Others is what the kernel holds besides leash's table.
type Others struct {
	Chains []Chain  `json:"chains,omitempty"`
	Legacy []Legacy `json:"legacy,omitempty"`
}

// OnHook lists the chains on hook, by priority, then family, table, chain.
func (o Others) OnHook(hook string) []Chain {
	var out []Chain
	for _, c := range o.Chains {
		if c.Hook == hook {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Priority != b.Priority {
			return a.Priority < b.Priority
		}
		if a.Family != b.Family {
			return a.Family < b.Family
		}
		if a.Table != b.Table {
			return a.Table < b.Table
		}
		return a.Chain < b.Chain
	})
	return out
}

// MayDrop reports whether c can drop a packet leash allows: its policy is
// drop, or one of its rules drops or rejects.
func (c Chain) MayDrop() bool { return c.Policy == "drop" || c.Drops }

// Order says where c runs relative to leash's base chain of priority
// leash: "before leash", "after leash" or "alongside leash" (same priority:
// the order is the order the chains were registered in).
func (c Chain) Order(leash int32) string {
	switch {
	case c.Priority < leash:
		return "before leash"
	case c.Priority > leash:
		return "after leash"
	}
	return "alongside leash"
}

// String names c for people: "table ip legacyscript chain output (hook output, priority 0, policy accept, 1 rule)".
func (c Chain) String() string {
	rules := "rules"
	if c.Rules == 1 {
		rules = "rule"
	}
	return fmt.Sprintf("table %s %s chain %s (hook %s, priority %d, policy %s, %d %s)", c.Family, c.Table, c.Chain, c.Hook, c.Priority, c.Policy, c.Rules, rules)
}

// Caveats are what to add to "leash allows it" for a packet on hook that
// leash's base chain of priority leash accepts: one line per other chain
// that may drop it, and one per legacy iptables table (whose rules cannot
// be seen). Empty when nothing else can stop it.
func (o Others) Caveats(hook string, leash int32, family int) []string {
	var out []string
	for _, c := range o.OnHook(hook) {
		if !c.MayDrop() || !c.sees(family) {
			continue
		}
		what := "may still drop it"
		if c.Policy == "drop" {
			what = "drops it unless one of its rules accepts it"
		}
		out = append(out, fmt.Sprintf("leash allows; table %s %s %s (chain %s, hook %s, priority %d, %s)", c.Family, c.Table, what, c.Chain, c.Hook, c.Priority, c.Order(leash)))
	}
	for _, l := range o.Legacy {
		if (l.Family == "ip" && family == 6) || (l.Family == "ip6" && family == 4) {
			continue
		}
		tool := "iptables-legacy"
		if l.Family == "ip6" {
			tool = "ip6tables-legacy"
		}
		out = append(out, fmt.Sprintf("leash allows; legacy %s table %s is loaded, whose rules nftables cannot show: they may still drop it (%s -S -t %s lists them)", tool, l.Table, tool, l.Table))
	}
	return out
}

// sees reports whether c's family judges packets of IP family (4 or 6; 0:
// unknown, every chain counts).
func (c Chain) sees(family int) bool {
	switch {
	case family == 4:
		return c.Family != "ip6"
	case family == 6:
		return c.Family != "ip"
	}
	return true
}
