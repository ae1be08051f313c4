package denylog

import (
	"errors"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/state"
)

// RuleBook maps what a log message names back to the applied policy: rule
// ids to their origins, destination addresses to the hostnames that resolved
// to them when the policy was applied.
type RuleBook struct {
	origins map[string]ruleset.Origin
	hosts   map[netip.Addr][]string
}

// NewRuleBook indexes a generation; nil gives an empty book.
func NewRuleBook(g *state.Generation) *RuleBook {
	b := &RuleBook{origins: map[string]ruleset.Origin{}, hosts: map[netip.Addr][]string{}}
	if g == nil {
		return b
	}
	if g.Ruleset != nil {
		for _, c := range g.Ruleset.Chains {
			for _, r := range c.Rules {
				if r.Origin.ID != "" {
					b.origins[r.Origin.ID] = r.Origin
				}
			}
		}
	}
	for name, addrs := range g.Hosts {
		for _, s := range addrs {
			if a, err := netip.ParseAddr(s); err == nil {
				b.hosts[a.Unmap()] = append(b.hosts[a.Unmap()], name)
			}
		}
	}
	for a, names := range b.hosts {
		slices.Sort(names)
		b.hosts[a] = slices.Compact(names)
	}
	return b
}

// Origin returns the policy origin of rule id.
func (b *RuleBook) Origin(id string) (ruleset.Origin, bool) {
	o, ok := b.origins[id]
	return o, ok
}

// Hostnames returns the names that resolved to a, sorted.
func (b *RuleBook) Hostnames(a netip.Addr) []string {
	return b.hosts[a.Unmap()]
}

// Generations is where the current generation comes from (a *state.Store).
type Generations interface {
	CurrentID() (int, error)
	Current() (*state.Generation, error)
}

// CurrentRules keeps a RuleBook of the generation in force, re-reading it
// when `leash apply` made another one current. It checks at most once per
// Every, so a flood of events costs one small file read per Every.
type CurrentRules struct {
	Store Generations
	Now   func() time.Time
	Every time.Duration

	mu      sync.Mutex
	checked time.Time
	id      int
	book    *RuleBook
}

// Book returns the RuleBook of the current generation; an empty one when
// nothing is applied or the state cannot be read (events then carry the rule
// id from the kernel only).
func (c *CurrentRules) Book() *RuleBook {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.Now()
	if c.book != nil && now.Sub(c.checked) < c.Every {
		return c.book
	}
	c.checked = now
	id, err := c.Store.CurrentID()
	if err != nil {
		if errors.Is(err, state.ErrNone) || c.book == nil {
			c.book, c.id = NewRuleBook(nil), 0
		}
		return c.book
	}
	if c.book != nil && id == c.id {
		return c.book
	}
	g, err := c.Store.Current()
	if err != nil {
		if c.book == nil {
			c.book = NewRuleBook(nil)
		}
		return c.book
	}
	c.book, c.id = NewRuleBook(g), id
	return c.book
}
