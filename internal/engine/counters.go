package engine

import (
	"errors"
	"fmt"

	"github.com/leash-dev/leash/internal/drift"
	"github.com/leash-dev/leash/internal/state"
)

// Counters reads the kernel's table and sums its counters per chain and
// rule (drift.Counters), with the policy lines of the generation in force
// (Annotate): what `leash status` prints below its verdict, without the
// comparison or the other firewalls. It returns nil counters when the
// kernel holds no table. It never writes or waits for the lock. Its cost
// is one read of the table (nft list table inet leash).
func (e *Engine) Counters() ([]drift.ChainCounters, error) {
	gen, _, err := e.View()
	switch {
	case errors.Is(err, state.ErrNone):
		gen = nil
	case err != nil:
		return nil, fmt.Errorf("read the applied generation: %w", err)
	}
	k, err := e.kernel()
	if err != nil {
		return nil, err
	}
	defer k.Close()
	seen, err := Observe(k)
	if err != nil || seen.Table == nil {
		return nil, err
	}
	Annotate(seen.Table, gen)
	return drift.Counters(seen.Table), nil
}
