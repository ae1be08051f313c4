// Package compile turns a resolved policy into the ruleset leash loads into the
// kernel. Compile is a pure function: the same Resolved always gives the same
// Ruleset, byte for byte, so its text form can be golden-tested and diffed.
//
// Shape of the compiled table (nft syntax; see docs/policy.md for the why):
//
//	chain output { type filter hook output priority filter; policy accept;
//	    meta skuid vmap @users       # uid -> its policy chain (users first, then group members)
//	    meta skgid vmap @groups      # the socket's gid -> its group policy chain
//	    meta skuid >= 0 jump p_EVERYONE  (or accept when there is no everyone policy)
//	    goto unowned                 # packets without an owning socket
//	}
//	chain p_NAME { [ct direction reply accept] [loopback rules] rules... default }
//	chain p_NAME.rN { the verdict of rule N when its matches share a lookup and it
//	                  rejects or logs; otherwise the lookup's entries hold it (flat.go) }
//
// Every packet of a subject is judged by its policy's rules (no blanket
// conntrack shortcut), so connections opened before a policy change are cut
// when the new policy denies them. Per-packet cost is one or two map lookups
// plus a few lookups for the rules of one policy, whatever the number of
// users, destinations or rules.
package compile

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
)

// Names of the fixed parts of the table.
const (
	ChainOutput  = "output"
	ChainUnowned = "unowned"
	MapUsers     = "users"
	MapGroups    = "groups"
	// MapUserRanges and MapGroupRanges hold the wide uid and gid ranges;
	// MapUsers and MapGroups the single ids (see layout.go).
	MapUserRanges  = "user_ranges"
	MapGroupRanges = "group_ranges"
	// SetUnownedICMPv6 holds the ICMPv6 types the kernel sends without a
	// socket for the network to work at all: NDP (133-137).
	SetUnownedICMPv6 = "unowned_icmpv6"
	// SetUnownedMLD holds the MLD types (130-132, 143): multicast membership
	// reports, passed at a bounded rate (baseline.multicast_reports).
	SetUnownedMLD = "unowned_mld"
)

// Compile builds the ruleset for r. It does not fail on valid input: r comes
// from policy.Resolve, which has already reported every user error.
func Compile(r *policy.Resolved) *ruleset.Ruleset {
	rs, _, _ := CompileContext(context.Background(), r)
	return rs
}

// CompileWithWarnings is Compile, and also returns the warnings about the
// policy found on the way (dead rules: deadrules.go), in file order.
func CompileWithWarnings(r *policy.Resolved) (*ruleset.Ruleset, []Warning) {
	rs, ws, _ := CompileContext(context.Background(), r)
	return rs, ws
}

// CompileContext is CompileWithWarnings that stops when ctx is done (looked
// at between policies), with an error wrapping ctx.Err(): a huge policy
// file must not hold up Ctrl-C or SIGTERM.
func CompileContext(ctx context.Context, r *policy.Resolved) (*ruleset.Ruleset, []Warning, error) {
	c := &compiler{rs: &ruleset.Ruleset{}, file: r.File, sets: newSetIndex(), log: r.Baseline.Log,
		ruleChains: map[string]*ruleset.Chain{}, at: r.At,
		limits: map[*policy.ResolvedRule]*ruleLimit{}, orphans: orphanLayoutOf(r.Baseline)}
	everyone := everyonePolicy(r)
	for _, p := range r.Policies {
		if err := ctx.Err(); err != nil {
			return nil, nil, fmt.Errorf("compile: %w", err)
		}
		c.policyChain(p)
	}
	c.dispatch(r, everyone)
	fwd := c.forward(r) // forward.go: nil without hosts or interfaces
	c.unowned(r.Baseline, everyone)
	// The base chains first (the DNS exemption's chain after them), then
	// the policies in file order, then unowned.
	c.rs.Chains = []*ruleset.Chain{c.output}
	if fwd != nil {
		c.rs.Chains = append(c.rs.Chains, fwd)
	}
	if jump, ch := c.dnsExempt(r); jump != nil {
		c.output.Rules = append([]*ruleset.Rule{jump}, c.output.Rules...)
		c.rs.Chains = append(c.rs.Chains, ch)
	}
	c.rs.Chains = append(c.rs.Chains, append(c.policies, c.unownedChain)...)
	if ch := c.orphanTagChain(r.Baseline); ch != nil { // orphans.go
		c.rs.Chains = append(c.rs.Chains, ch)
	}
	return c.rs, c.warnings, nil
}

// compiler accumulates the ruleset. sets finds the first identical set, so
// a destination list used by many rules is loaded once.
type compiler struct {
	rs           *ruleset.Ruleset
	file         string
	output       *ruleset.Chain
	policies     []*ruleset.Chain
	unownedChain *ruleset.Chain
	sets         *setIndex
	log          policy.LogSettings
	// ruleChains are the rules' verdict chains made so far (flat.go);
	// pending those of the policy being compiled, not yet in policies.
	ruleChains map[string]*ruleset.Chain
	pending    []ruleChain
	warnings   []Warning
	// at is the instant time windows are compiled from (when.go).
	at time.Time
	// limits are the limited rules' meters, policy the policy being
	// compiled (limit.go).
	limits map[*policy.ResolvedRule]*ruleLimit
	policy *policy.ResolvedPolicy
	// lookups numbers the shared lookups of the policy being compiled.
	lookups int
	// orphans is the layout of the orphan tag's mark bits (orphans.go).
	orphans orphanBits
}

func everyonePolicy(r *policy.Resolved) *policy.ResolvedPolicy {
	for _, p := range r.Policies {
		if p.Everyone {
			return p
		}
	}
	return nil
}

// ChainName is the chain that holds policy name's rules.
func ChainName(policyName string) string { return "p_" + policyName }

// setPrefix is how the names of policy pol's sets begin: the policy name,
// with an underscore in front when it starts with a digit (policy names
// may, nft set names may not). Policy names never start with '_', so the
// prefixes of two policies never collide.
func setPrefix(pol string) string {
	if pol != "" && pol[0] >= '0' && pol[0] <= '9' {
		return "_" + pol
	}
	return pol
}

// setting is the source text of a setting such as "loopback: all", marked
// as a default when the file does not write it (pos has no line).
func setting(text string, pos policy.Pos) string {
	if pos.Line == 0 {
		return text + " (default)"
	}
	return text
}

// origin records where a kernel rule comes from.
func (c *compiler) origin(id, pol, what string, rule int, pos policy.Pos, text string) ruleset.Origin {
	return ruleset.Origin{ID: id, Policy: pol, Rule: rule, What: what, File: pos.File, Line: pos.Line, Col: pos.Col, Text: text}
}

func ruleID(pol string, n int) string { return pol + "/r" + strconv.Itoa(n) }
