package engine

import (
	"fmt"

	"github.com/leash-dev/leash/internal/drift"
	"github.com/leash-dev/leash/internal/firewalls"
	"github.com/leash-dev/leash/internal/ruleset"
)

// Table reads leash's table from the kernel with counters (nil: there is
// none), with the policy lines of the generation in force where it knows
// the rules (Annotate). Changes nothing.
func (e *Engine) Table() (*ruleset.Ruleset, error) {
	k, err := e.kernel()
	if err != nil {
		return nil, err
	}
	defer k.Close()
	seen, err := k.Read()
	if err != nil {
		return nil, readError(err)
	}
	if seen != nil {
		if gen, _, err := e.View(); err == nil {
			Annotate(seen, gen)
		}
	}
	return seen, nil
}

// Others reads the other firewalls on the hooks leash uses (read-only).
func (e *Engine) Others() (firewalls.Others, error) {
	k, err := e.kernel()
	if err != nil {
		return firewalls.Others{}, err
	}
	defer k.Close()
	o, err := k.Others()
	if err != nil {
		return firewalls.Others{}, fmt.Errorf("read the other tables' base chains: %w", err)
	}
	return o, nil
}

// Plan is what Apply of c would change: the kernel's table now (nil: none)
// and the diff from it to c's, in canonical nft text without counters (""
// when the kernel already enforces c). Changes nothing.
func (e *Engine) Plan(c *Compiled) (current *ruleset.Ruleset, diff string, err error) {
	k, err := e.kernel()
	if err != nil {
		return nil, "", err
	}
	defer k.Close()
	cur, err := k.Read()
	if err != nil {
		return nil, "", readError(err)
	}
	// The kernel reads back in canonical form (protocol dependencies
	// explicit); the orphan tag is the one Apply would choose.
	same, next := orphanTags(tagOf(cur), c)
	if diff = drift.TableDiff("kernel", cur, c.Path, same.Ruleset); diff == "" {
		return cur, "", nil
	}
	return cur, drift.TableDiff("kernel", cur, c.Path, next.Ruleset), nil
}
