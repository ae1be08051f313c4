package compile_test

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/leash-dev/leash/bench/benchpolicy"
	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
)

// BenchmarkCompile compiles the benchmark policy (bench/benchpolicy) with
// 100, 10,000 and 100,000 users spread over ten policies, all denying the
// same 100,000 IPv4 CIDRs. The policy is built once, outside the timer.
func BenchmarkCompile(b *testing.B) {
	for _, users := range []int{100, 10_000, 100_000} {
		b.Run(fmt.Sprintf("users=%d/cidrs=100000", users), func(b *testing.B) {
			r, _ := benchpolicy.Build(benchpolicy.Spec{Users: users, CIDRs: 100_000})
			benchCompile(b, r)
		})
	}
}

// BenchmarkCompileRules compiles issue 16's rule lists: 100,000 allowed
// /24s written as 1, 10, 100 or 1,000 rules per policy, in ten policies of
// 100 users. Every policy's rules become one shared lookup.
func BenchmarkCompileRules(b *testing.B) {
	for _, rules := range []int{1, 10, 100, 1000} {
		b.Run(fmt.Sprintf("rules=%d/dests=100000", rules), func(b *testing.B) {
			r, _ := benchpolicy.BuildRules(benchpolicy.RulesSpec{Users: 100, Rules: rules, Dests: 100_000})
			benchCompile(b, r)
		})
	}
}

// BenchmarkCompileManyRules compiles issue 16's load shape: 200 policies
// of 1,000 rules, each rule its own host and TCP port (one shared lookup
// per policy).
func BenchmarkCompileManyRules(b *testing.B) {
	r := &policy.Resolved{File: "bench.yaml", Baseline: policy.Baseline{Unowned: policy.UnownedEveryone, Established: true}}
	pos := policy.Pos{File: "bench.yaml", Line: 1, Col: 1}
	for k := range 200 {
		p := &policy.ResolvedPolicy{Name: fmt.Sprintf("p%d", k), Pos: pos, Default: policy.Deny, DefaultPos: pos,
			UIDs: []ruleset.Range{{Lo: uint32(1000 + k), Hi: uint32(1000 + k)}}, Loopback: policy.Loopback{Mode: policy.LoopbackAll}}
		for i := range 1000 {
			host := netip.AddrFrom4([4]byte{10, byte(k), byte(i >> 8), byte(i)})
			p.Rules = append(p.Rules, &policy.ResolvedRule{Index: i + 1, Pos: pos, Action: policy.Allow, Text: "allow",
				To:     &policy.Destinations{V4: []netip.Prefix{netip.PrefixFrom(host, 32)}},
				Protos: []policy.ProtoSpec{{Proto: ruleset.ProtoTCP, Ports: []ruleset.Range{{Lo: uint32(1000 + i), Hi: uint32(1000 + i)}}}}})
		}
		r.Policies = append(r.Policies, p)
	}
	benchCompile(b, r)
}

// benchCompile times compiling r, after checking once that what it
// compiles to is valid.
func benchCompile(b *testing.B, r *policy.Resolved) {
	b.Helper()
	if err := ruleset.Validate(compile.Compile(r)); err != nil {
		b.Fatalf("compiled benchmark policy is invalid: %v", err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		compile.Compile(r)
	}
}
