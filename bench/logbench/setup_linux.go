package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/denylog"
	"github.com/leash-dev/leash/internal/identity"
	"github.com/leash-dev/leash/internal/netns"
	"github.com/leash-dev/leash/internal/nft"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/state"
)

const (
	// benchUID is the sender; it need not exist.
	benchUID = 100000
	group    = 4242
	// targetNet is routed to lo in the namespace: every address in it is
	// local, and its packets take the output path.
	targetNet = "10.99.0.0/16"
)

// benchPolicy denies (and logs, at the highest rate a policy may set)
// everything benchUID sends.
var benchPolicy = fmt.Sprintf(`version: 1
baseline:
  loopback: rules
  log: {group: %d, rate: 1000000/second, burst: 1000000}
policies:
  - name: bench
    users: [%d]
    default: deny
`, group, benchUID)

// benchEnv is the applied policy: its user directory and rule book.
type benchEnv struct {
	dir   *identity.Directory
	rules func() *denylog.RuleBook
}

// applyPolicy compiles benchPolicy, applies it in ns and stores it as the
// current generation under dir, as `leash apply` does.
func applyPolicy(ns *netns.NS, dir string) (*benchEnv, error) {
	d := &identity.Directory{Users: []identity.User{{Name: "bench", UID: benchUID, GID: benchUID}}}
	res, err := policy.Load(context.Background(), "bench.yaml", []byte(benchPolicy), policy.Env{Directory: d})
	if err != nil {
		return nil, err
	}
	rs := compile.Compile(res)
	if err := ruleset.Validate(rs); err != nil {
		return nil, err
	}
	conn, err := nft.OpenNetNS(ns.Name)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if err := conn.Apply(rs); err != nil {
		return nil, err
	}
	store := &state.Store{Dir: dir + "/state"}
	if _, err := store.Save(&state.Generation{Meta: state.Meta{Time: time.Now(), PolicyFile: "bench.yaml"}, Ruleset: rs, Policy: []byte(benchPolicy)}); err != nil {
		return nil, err
	}
	book := (&denylog.CurrentRules{Store: store, Now: time.Now, Every: time.Second}).Book
	return &benchEnv{dir: d, rules: book}, nil
}

// logged reads the packets counted by the policy's logging rule.
func (e *benchEnv) logged(ns *netns.NS) (uint64, error) {
	conn, err := nft.OpenNetNS(ns.Name)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	rs, err := conn.Read()
	if err != nil {
		return 0, err
	}
	if rs == nil {
		return 0, errors.New("table inet leash is gone")
	}
	for _, c := range rs.Chains {
		for _, r := range c.Rules {
			if r.Verdict.Kind == ruleset.Log && r.Origin.ID == "bench/default" {
				return r.Packets, nil
			}
		}
	}
	return 0, errors.New("no logging rule bench/default in the kernel")
}

func errorsJoin(errs ...error) error { return errors.Join(errs...) }
