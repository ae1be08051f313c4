package hostrefresh_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/leash-dev/leash/bench/benchpolicy"
	"github.com/leash-dev/leash/internal/clock"
	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/engine"
	"github.com/leash-dev/leash/internal/kerneltest"
	"github.com/leash-dev/leash/internal/netns"
	"github.com/leash-dev/leash/internal/nft"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/state"
)

// bigWithHost is the 100,000-user benchmark policy (benchpolicy.Build:
// 100,000 uids over 10 policies, a 100,000-CIDR deny list) with one more
// rule in p0 allowing mail.example.com (resolved to addr) on 25/tcp.
func bigWithHost(addr netip.Addr) *engine.Compiled {
	r, _ := benchpolicy.Build(benchpolicy.Spec{Users: 100_000, CIDRs: 100_000})
	const host = "mail.example.com"
	r.Hosts = map[string][]netip.Addr{host: {addr}}
	p := r.Policies[0]
	p.Rules = append(p.Rules, &policy.ResolvedRule{Index: len(p.Rules) + 1, Pos: p.Pos, Action: policy.Allow, Text: "allow to mail.example.com 25/tcp",
		To:     &policy.Destinations{V4: []netip.Prefix{netip.PrefixFrom(addr, 32)}, Hosts: []string{host}},
		Protos: []policy.ProtoSpec{{Proto: ruleset.ProtoTCP, Ports: []ruleset.Range{{Lo: 25, Hi: 25}}}}})
	rs := compile.Compile(r)
	return &engine.Compiled{Path: "/bench/big.yaml", Source: []byte("# bench " + addr.String() + "\n"), Resolved: r, Ruleset: rs}
}

// BenchmarkHostUpdate compares, in one run and one namespace, the two ways
// a hostname's new address reaches the kernel under the 100,000-user
// policy: the daemon's refresh (Engine.RefreshHosts: the policy compiled
// again with the new answer, diffed against the table loaded, the changed
// elements sent in one transaction and recorded in refreshed.json, no
// generation) and a full apply of the recompiled policy (Engine.Apply: a
// new generation recorded, the whole table replaced).
//
//	sudo go test -run '^$' -bench BenchmarkHostUpdate -benchtime 5x ./internal/hostrefresh
func BenchmarkHostUpdate(b *testing.B) {
	kerneltest.Require(b)
	ns, err := netns.Create(fmt.Sprintf("leash-hostbench-%d", os.Getpid()))
	if err != nil {
		b.Fatal(err)
	}
	defer ns.Close()
	ctx := context.Background()
	e := &engine.Engine{Store: &state.Store{Dir: b.TempDir()}, OpenKernel: func() (engine.Kernel, error) { return nft.OpenNetNS(ns.Name) },
		Clock: clock.Real{}, LockTimeout: time.Minute, Holder: "hostrefresh bench"}
	a1, a2 := netip.MustParseAddr("192.0.2.25"), netip.MustParseAddr("192.0.2.26")
	c1, c2 := bigWithHost(a1), bigWithHost(a2)
	start := time.Now()
	if _, err := e.Apply(ctx, c1, engine.ApplyOptions{}); err != nil {
		b.Fatal(err)
	}
	b.Logf("first apply: %v", time.Since(start))
	to := a2 // alternates across calls of the sub-benchmark, as the kernel does
	b.Run("incremental", func(b *testing.B) {
		var compiling time.Duration
		defer func() { b.ReportMetric(float64(compiling.Milliseconds())/float64(b.N), "compile-ms/op") }()
		for b.Loop() {
			res, err := e.RefreshHosts(ctx, func(context.Context, *state.Generation) (*engine.Compiled, error) {
				began := time.Now()
				c := bigWithHost(to) // the recompile is part of the cost
				compiling += time.Since(began)
				c.Source = c1.Source
				return c, nil
			})
			if err != nil {
				b.Fatal(err)
			}
			if res.Replaced || res.Ops != 2 {
				b.Fatalf("refresh: %+v, want 2 element changes in place", res)
			}
			if to == a2 {
				to = a1
			} else {
				to = a2
			}
		}
	})
	next := c2 // its source differs from generation 1's: a change
	b.Run("full-apply", func(b *testing.B) {
		for b.Loop() {
			res, err := e.Apply(ctx, next, engine.ApplyOptions{})
			if err != nil {
				b.Fatal(err)
			}
			if res.Unchanged {
				b.Fatal("the apply changed nothing")
			}
			if next == c2 {
				next = c1
			} else {
				next = c2
			}
		}
	})
}
