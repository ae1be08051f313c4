package policy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/policy/policytest"
)

// manyRules is a file whose one policy has n rules of every kind a rule
// can have (lists, hostnames, services, windows, limits, via), with a bad
// entry every badEvery rules (none if 0).
func manyRules(n, badEvery int) []byte {
	var b strings.Builder
	b.WriteString("version: 1\ndestinations:\n  lan: [10.20.0.0/16, fd00:20::/32, mail.example.com]\npolicies:\n  - name: p\n    users: [alice]\n    rules:\n")
	for i := range n {
		switch {
		case badEvery > 0 && i%badEvery == badEvery-1:
			fmt.Fprintf(&b, "      - allow: {to: [10.%d.0.1/8], ports: [nosuchservice/tcp]}\n", i%250)
		case i%6 == 0:
			b.WriteString("      - allow: {to: [lan], ports: [ssh/tcp]}\n")
		case i%6 == 1:
			b.WriteString("      - allow: {to: [updates.example.org, deb.example.org], ports: [https/tcp, 80]}\n")
		case i%6 == 2:
			fmt.Fprintf(&b, "      - allow:\n          ports: [%d/udp]\n          when: {days: [mon-fri], hours: [\"08:00-18:00\"], zone: UTC}\n", 1000+i)
		case i%6 == 3:
			fmt.Fprintf(&b, "      - allow:\n          to: [10.%d.%d.0/24]\n          ports: [tcp]\n          limit: {rate: 5/minute, burst: 3, over: deny}\n", i%250, i/250)
		case i%6 == 4:
			fmt.Fprintf(&b, "      - allow: {to: [10.%d.%d.0/24], via: [wg0]}\n", 100+i%100, i/100)
		default:
			fmt.Fprintf(&b, "      - deny: {to: [192.0.2.%d, 2001:db8::%x], ports: [%d/tcp]}\n", i%250, i, 2000+i)
		}
	}
	b.WriteString("    default: deny\n")
	return []byte(b.String())
}

// loadWith loads src with GOMAXPROCS set to procs, and returns the
// resolved file as JSON and the error text.
func loadWith(t *testing.T, procs int, src []byte) (string, string) {
	t.Helper()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
	r, err := policy.Load(context.Background(), "f.yaml", src, policytest.Env(policytest.DefaultIDs))
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if r == nil {
		return "", msg
	}
	r.At = r.At.UTC()
	j, jerr := json.Marshal(r)
	if jerr != nil {
		t.Fatal(jerr)
	}
	return string(j), msg
}

// TestParallelRulesResolveAlike: the rules of a long policy, resolved in
// parallel runs, give the same resolved file, and the same messages in the
// same order, as one run (GOMAXPROCS 1).
func TestParallelRulesResolveAlike(t *testing.T) {
	for _, tc := range []struct {
		name     string
		badEvery int
	}{{"valid", 0}, {"with errors", 97}} {
		t.Run(tc.name, func(t *testing.T) {
			src := manyRules(600, tc.badEvery)
			oneJSON, oneErr := loadWith(t, 1, src)
			parJSON, parErr := loadWith(t, 4, src)
			if tc.badEvery == 0 && (oneErr != "" || oneJSON == "") {
				t.Fatalf("the valid file does not load: %s", oneErr)
			}
			if tc.badEvery > 0 && strings.Count(oneErr, "nosuchservice") < 6 {
				t.Fatalf("want an error per bad rule, got:\n%s", oneErr)
			}
			if diff := cmp.Diff(oneJSON, parJSON); diff != "" {
				t.Errorf("resolved files differ (-one run +parallel):\n%s", diff)
			}
			if diff := cmp.Diff(oneErr, parErr); diff != "" {
				t.Errorf("messages differ (-one run +parallel):\n%s", diff)
			}
		})
	}
}
