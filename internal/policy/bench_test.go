package policy

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// BenchmarkLoad parses and resolves a policy file like the benchmark
// policy of bench/: a list of 100,000 /28s in 10.0.0.0/8 that ten
// policies (uid ranges, so no user database is consulted) deny, then
// two ports allowed. The file is generated once, outside the timer.
func BenchmarkLoad(b *testing.B) {
	src := bigPolicy(100_000, 10)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Load(context.Background(), "big.yaml", src, testEnv()); err != nil {
			b.Fatal(err)
		}
	}
}

// bigPolicy writes the YAML of BenchmarkLoad: cidrs distinct /28s (a fixed
// sequence spread over 10.0.0.0/8) and policies policies.
func bigPolicy(cidrs, policies int) []byte {
	var s strings.Builder
	s.WriteString("version: 1\ndestinations:\n  block:\n")
	for i := range cidrs {
		n := uint32(i) * 2654435761 % (1 << 20) // a permutation of the /28s of 10.0.0.0/8
		fmt.Fprintf(&s, "    - 10.%d.%d.%d/28\n", n>>12&255, n>>4&255, n&15<<4)
	}
	s.WriteString("policies:\n")
	for p := range policies {
		lo := 100000 + p*10000
		fmt.Fprintf(&s, "  - name: p%d\n    users: [%d-%d]\n    rules:\n      - deny: {to: [block]}\n      - allow: {ports: [5001/udp, 5002/tcp]}\n    default: deny\n", p, lo, lo+9999)
	}
	return []byte(s.String())
}
