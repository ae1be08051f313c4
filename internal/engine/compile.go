package engine

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
)

// Compiled is a policy taken all the way to a ruleset: what Apply takes.
type Compiled struct {
	// Path names the policy (a file, or a stored generation's policy file).
	Path string
	// Source is the policy text, stored with the generation.
	Source   []byte
	Resolved *policy.Resolved
	Ruleset  *ruleset.Ruleset
	// deadRules are the compiler's warnings (rules earlier rules decide
	// entirely).
	deadRules []compile.Warning
	// transferred, for a policy compiled in another process (Transfer),
	// stands in for Resolved.
	transferred *Transfer
}

// Compile validates, resolves (users, groups, services, hostnames in env)
// and compiles src, the text of path. Errors in the text come back as a
// policy.ErrorList; nothing is touched. Every phase stops when ctx ends
// (Ctrl-C, SIGTERM), with an error wrapping ctx.Err().
func Compile(ctx context.Context, env policy.Env, path string, src []byte) (*Compiled, error) {
	res, err := policy.Load(ctx, path, src, env)
	if err != nil {
		return nil, err
	}
	rs, dead, err := compile.CompileContext(ctx, res)
	if err != nil {
		return nil, err
	}
	if err := ruleset.ValidateContext(ctx, rs); err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, fmt.Errorf("internal error: compiled ruleset is inconsistent (please report): %w", err)
	}
	return &Compiled{Path: path, Source: src, Resolved: res, Ruleset: rs, deadRules: dead}, nil
}

// Warnings are what a careful reviewer would flag in the policy (see
// policy.Warning): the policy package's and the compiler's dead rules, in
// file order. validate, plan and apply print them.
func (c *Compiled) Warnings() []policy.Warning {
	if c.Resolved == nil {
		return nil
	}
	ws := append([]policy.Warning(nil), c.Resolved.Lint...)
	for _, d := range c.deadRules {
		ws = append(ws, policy.Warning{Pos: d.Pos, Message: d.Message, Fix: d.Fix})
	}
	policy.SortWarnings(ws)
	return ws
}

// Summary counts what a policy contains, for validate and apply.
type Summary struct {
	File        string `json:"file"`
	Policies    int    `json:"policies"`
	Rules       int    `json:"rules"`
	Hostnames   int    `json:"hostnames"`
	Sets        int    `json:"sets"`
	Chains      int    `json:"chains"`
	KernelRules int    `json:"kernel_rules"`
}

// Summary counts c's policies, rules, hostnames and kernel objects.
func (c *Compiled) Summary() Summary {
	if c.transferred != nil {
		return c.transferred.Summary
	}
	s := Summary{File: c.Path, Policies: len(c.Resolved.Policies), Hostnames: len(c.Resolved.Hosts),
		Sets: len(c.Ruleset.Sets) + len(c.Ruleset.Maps), Chains: len(c.Ruleset.Chains)}
	for _, p := range c.Resolved.Policies {
		s.Rules += len(p.Rules)
	}
	for _, ch := range c.Ruleset.Chains {
		s.KernelRules += len(ch.Rules)
	}
	return s
}

func (s Summary) String() string {
	return fmt.Sprintf("%d policies, %d rules, %d hostnames resolved; compiles to %d chains, %d sets and maps, %d kernel rules",
		s.Policies, s.Rules, s.Hostnames, s.Chains, s.Sets, s.KernelRules)
}

// Short is the one-line description history shows for a policy.
func (s Summary) Short() string {
	return fmt.Sprintf("%d policies, %d rules, %d hostnames", s.Policies, s.Rules, s.Hostnames)
}

// hosts is what every hostname of c resolved to, for the record.
func (c *Compiled) hosts() map[string][]string {
	if c.transferred != nil {
		return c.transferred.Hosts
	}
	hosts := map[string][]string{}
	for n, addrs := range c.Resolved.Hosts {
		for _, a := range addrs {
			hosts[n] = append(hosts[n], a.String())
		}
	}
	return hosts
}

// absPath is c.Path made absolute for the record (as given if that fails).
func (c *Compiled) absPath() string {
	abs, err := filepath.Abs(c.Path)
	if err != nil {
		return c.Path
	}
	return abs
}
