package benchpolicy

import (
	"fmt"
	"strings"
)

// The YAML shapes of issue 16, written as an admin would: every uid, CIDR
// and rule listed one by one. They feed the load, validate, apply, restore
// and read-back benchmarks and `leash validate/apply` runs (bench/README.md).
//
// ListedUsers (Users uids over Policies policies, one rule each, plus one
// policy "web" whose Rules rules allow PerRule /24s each, then one host):
//
//	policies:
//	  - name: web
//	    users: [50000]
//	    rules:
//	      - allow: {to: [20.0.0.0/24, 20.0.2.0/24, ...]}   # Rules rules of PerRule /24s
//	      - allow: {to: [192.0.2.1]}
//	    default: deny
//	  - name: pK
//	    users: [100000, 100002, ...]                        # every uid written out
//	    rules:
//	      - allow: {ports: [443/tcp]}
//	    default: deny
//
// ManyRules (Policies policies of Rules rules, each rule its own /24 and
// port):
//
//	  - name: pK
//	    users: [100000+K]
//	    rules:
//	      - allow: {to: [20.a.b.0/24], ports: [1000+J/tcp]}
//	    default: deny

// ListedUsers is the shape of issue 16's first load case.
type ListedUsers struct {
	Users, Policies int // uids FirstUID+2i, spread round robin over Policies policies
	Rules, PerRule  int // the web policy: Rules rules of PerRule /24s each
}

// YAML writes the policy file.
func (s ListedUsers) YAML() []byte {
	var b strings.Builder
	b.WriteString("version: 1\npolicies:\n  - name: web\n    users: [50000]\n    rules:\n")
	n := 0
	for range s.Rules {
		b.WriteString("      - allow: {to: [")
		for j := range s.PerRule {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString(slash24(n))
			n++
		}
		b.WriteString("]}\n")
	}
	b.WriteString("      - allow: {to: [192.0.2.1]}\n    default: deny\n")
	for k := range s.Policies {
		fmt.Fprintf(&b, "  - name: p%d\n    users: [", k)
		for i, first := k, true; i < s.Users; i += s.Policies {
			if !first {
				b.WriteString(", ")
			}
			first = false
			fmt.Fprint(&b, FirstUID+2*i)
		}
		b.WriteString("]\n    rules:\n      - allow: {ports: [443/tcp]}\n    default: deny\n")
	}
	return []byte(b.String())
}

// ManyRules is the shape of issue 16's rule-count case.
type ManyRules struct {
	Policies, Rules int
}

// YAML writes the policy file.
func (s ManyRules) YAML() []byte {
	var b strings.Builder
	b.WriteString("version: 1\npolicies:\n")
	n := 0
	for k := range s.Policies {
		fmt.Fprintf(&b, "  - name: p%d\n    users: [%d]\n    rules:\n", k, FirstUID+k)
		for j := range s.Rules {
			fmt.Fprintf(&b, "      - allow: {to: [%s], ports: [%d/tcp]}\n", slash24(n), 1000+j)
			n++
		}
		b.WriteString("    default: deny\n")
	}
	return []byte(b.String())
}

// OneRule is one policy with one rule denying Addrs single IPv4 addresses
// (non-adjacent, so none merge): the read-back case of issue 16.
type OneRule struct {
	Addrs int
}

// YAML writes the policy file.
func (s OneRule) YAML() []byte {
	var b strings.Builder
	b.WriteString("version: 1\npolicies:\n  - name: big\n    users: [50000]\n    rules:\n      - deny: {to: [\n")
	for i := range s.Addrs {
		v := uint32(0x14000000) + 2*uint32(i) // 20.0.0.0, every other address
		fmt.Fprintf(&b, "          %d.%d.%d.%d,\n", v>>24, v>>16&255, v>>8&255, v&255)
	}
	b.WriteString("        ]}\n    default: allow\n")
	return []byte(b.String())
}

// slash24 is the n-th of a sequence of distinct, non-adjacent /24s from
// 20.0.0.0 (every other /24, so no two merge into a shorter prefix).
func slash24(n int) string {
	v := uint32(0x14000000) + uint32(n)*512
	return fmt.Sprintf("%d.%d.%d.0/24", v>>24, v>>16&255, v>>8&255)
}
