package engine

import (
	"errors"
	"fmt"
	"sync"

	"github.com/leash-dev/leash/internal/drift"
	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/state"
)

// Counters reads the kernel's table and sums its counters per chain and
// rule (drift.Counters), with the policy lines of the generation in force
// (Annotate): what `leash status` prints below its verdict, without the
// comparison or the other firewalls. It returns nil counters when the
// kernel holds no table. It never writes or waits for the lock. Its cost
// is one read of the table (nft list table inet leash) and one decode of
// the generation in force; a poller uses CounterReader instead.
func (e *Engine) Counters() ([]drift.ChainCounters, error) {
	return e.counters(&originBook{})
}

// CounterReader is Counters for a poller (the metrics scrape): it keeps
// the policy lines of the generation in force and decodes the generation
// again only when its number changed (a 100,000-user generation takes
// seconds to decode; the table read stays). Safe for concurrent use.
func (e *Engine) CounterReader() func() ([]drift.ChainCounters, error) {
	var mu sync.Mutex
	book := &originBook{}
	return func() ([]drift.ChainCounters, error) {
		mu.Lock()
		defer mu.Unlock()
		return e.counters(book)
	}
}

// originBook is the rule origins of generation id (known nil: none read).
type originBook struct {
	id    int
	known map[string]ruleset.Origin
}

func (e *Engine) counters(book *originBook) ([]drift.ChainCounters, error) {
	if err := e.readOrigins(book); err != nil {
		return nil, err
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
	annotate(seen.Table, book.known)
	return drift.Counters(seen.Table), nil
}

// readOrigins fills book with the origins of the generation in force,
// unless it holds them already.
func (e *Engine) readOrigins(book *originBook) error {
	id, err := Generations{E: e}.CurrentID()
	switch {
	case errors.Is(err, state.ErrNone):
		book.id, book.known = 0, nil
		return nil
	case err == nil && book.known != nil && id == book.id:
		return nil
	}
	gen, _, err := e.View()
	switch {
	case errors.Is(err, state.ErrNone):
		book.id, book.known = 0, nil
		return nil
	case err != nil:
		return fmt.Errorf("read the applied generation: %w", err)
	}
	book.id, book.known = gen.ID, origins(gen)
	return nil
}
