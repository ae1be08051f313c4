package nft

import (
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/leash-dev/leash/internal/firewalls"
	"github.com/leash-dev/leash/internal/ruleset"
)

// maxFollow bounds how deep OtherChains follows jumps and gotos into a
// table's regular chains when it looks for drops (the kernel's jump stack
// is 16 deep).
const maxFollow = 16

// OtherChains reads the base chains of every table other than leash's in
// the families that judge IP packets (ip, ip6, inet), with their policy,
// rule count and whether any rule (or a chain it jumps to) drops or
// rejects. Read-only: nothing outside leash's table is ever changed. The
// read is a consistent snapshot (see snapshot), retried if another tool
// changes the ruleset meanwhile.
// nft equivalent: `nft list chains` and `nft list ruleset`.
func (c *Conn) OtherChains() ([]firewalls.Chain, error) {
	nc, err := c.nft()
	if err != nil {
		return nil, err
	}
	out, err := snapshot(c, nc, wholeRuleset, func() ([]firewalls.Chain, error) { return c.otherChains(nc) })
	if err != nil {
		return nil, fmt.Errorf("nft: %w", err)
	}
	return out, nil
}

// otherChains reads the other tables' base chains once.
func (c *Conn) otherChains(nc *nftables.Conn) ([]firewalls.Chain, error) {
	chains, err := c.dumpChains(true)
	if err != nil {
		return nil, err
	}
	var out []firewalls.Chain
	for _, ch := range chains {
		fam := familyName(ch.Table.Family)
		if ch.Hooknum == nil || ch.Priority == nil || fam == "" || (ch.Table.Name == ruleset.TableName && fam == "inet") {
			continue
		}
		rules, err := nc.GetRules(ch.Table, ch)
		if err != nil {
			return nil, fmt.Errorf("list rules of table %s %s chain %s: %w", fam, ch.Table.Name, ch.Name, err)
		}
		fc := firewalls.Chain{Family: fam, Table: ch.Table.Name, Chain: ch.Name, Hook: hookName(*ch.Hooknum),
			Priority: int32(*ch.Priority), Policy: "accept", Rules: len(rules)}
		if ch.Policy != nil && *ch.Policy == nftables.ChainPolicyDrop {
			fc.Policy = "drop"
		}
		fc.Drops = drops(nc, ch.Table, rules, map[string]bool{ch.Name: true}, 0)
		out = append(out, fc)
	}
	return out, nil
}

// drops reports whether a rule of rules, or of a chain of t one jumps to,
// drops or rejects.
func drops(nc *nftables.Conn, t *nftables.Table, rules []*nftables.Rule, seen map[string]bool, depth int) bool {
	for _, r := range rules {
		for _, e := range r.Exprs {
			switch e := e.(type) {
			case *expr.Reject:
				return true
			case *expr.Target: // iptables-nft's xtables targets (-j REJECT)
				if e.Name == "REJECT" || e.Name == "DROP" {
					return true
				}
			case *expr.Verdict:
				switch e.Kind {
				case expr.VerdictDrop:
					return true
				case expr.VerdictJump, expr.VerdictGoto:
					if depth >= maxFollow || seen[e.Chain] {
						continue
					}
					seen[e.Chain] = true
					sub, err := nc.GetRules(t, &nftables.Chain{Name: e.Chain, Table: t})
					if err == nil && drops(nc, t, sub, seen, depth+1) {
						return true
					}
				}
			}
		}
	}
	return false
}

func familyName(f nftables.TableFamily) string {
	switch f {
	case nftables.TableFamilyIPv4:
		return "ip"
	case nftables.TableFamilyIPv6:
		return "ip6"
	case nftables.TableFamilyINet:
		return "inet"
	}
	return ""
}

func hookName(h nftables.ChainHook) string {
	switch h {
	case unix.NF_INET_PRE_ROUTING:
		return "prerouting"
	case unix.NF_INET_LOCAL_IN:
		return "input"
	case unix.NF_INET_FORWARD:
		return "forward"
	case unix.NF_INET_LOCAL_OUT:
		return "output"
	case unix.NF_INET_POST_ROUTING:
		return "postrouting"
	}
	return fmt.Sprintf("hook %d", h)
}
