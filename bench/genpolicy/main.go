// Command genpolicy writes the YAML policy files of issue 16's load
// benchmarks (bench/benchpolicy) to stdout, for `leash validate`, `apply`,
// `restore` and `status` runs:
//
//	genpolicy users 100000 1000   # 100,000 listed uids over 1,000 policies + 100 rules of 1,000 /24s
//	genpolicy rules 200 1000      # 200 policies x 1,000 rules, each its own /24 and port
//	genpolicy addrs 1000000       # one rule denying 1,000,000 addresses
package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/leash-dev/leash/bench/benchpolicy"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "genpolicy:", err)
		fmt.Fprintln(os.Stderr, "usage: genpolicy users USERS POLICIES | rules POLICIES RULES | addrs N")
		os.Exit(2)
	}
}

func run(args []string) error {
	if len(args) < 2 {
		return fmt.Errorf("missing arguments")
	}
	n := make([]int, len(args)-1)
	for i, a := range args[1:] {
		v, err := strconv.Atoi(a)
		if err != nil || v < 0 {
			return fmt.Errorf("%q is not a count", a)
		}
		n[i] = v
	}
	var out []byte
	switch {
	case args[0] == "users" && len(n) == 2:
		out = benchpolicy.ListedUsers{Users: n[0], Policies: n[1], Rules: 100, PerRule: 1000}.YAML()
	case args[0] == "rules" && len(n) == 2:
		out = benchpolicy.ManyRules{Policies: n[0], Rules: n[1]}.YAML()
	case args[0] == "addrs" && len(n) == 1:
		out = benchpolicy.OneRule{Addrs: n[0]}.YAML()
	default:
		return fmt.Errorf("unknown shape %q or wrong number of counts", args[0])
	}
	_, err := os.Stdout.Write(out)
	return err
}
