package nft

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/leash-dev/leash/internal/clock"
	"github.com/leash-dev/leash/internal/firewalls"
	"github.com/leash-dev/leash/internal/ruleset"
)

// Fake is an in-memory stand-in for `table inet leash` in one network
// namespace, in the spirit of knftables' Fake: it implements what the engine
// needs of a kernel (Apply, UpdateElements, Read, Reset, Close) with the
// kernel's contract,
// and lets tests look inside and inject faults. It needs no privileges, so
// the control plane's state machine (record, change, commit, recover,
// confirm, revert) is tested in milliseconds.
//
// Like the kernel, Apply is atomic (a refused transaction leaves the table as
// it was), Read returns the table in canonical form (ruleset.Canonical) with
// only each rule's Origin.ID (the kernel stores only the comment), and a
// table holding content leash did not write reads as a *ForeignError.
// Safe for concurrent use.
type Fake struct {
	mu      sync.Mutex
	table   *ruleset.Ruleset // nil: no table
	foreign []string

	// MaxMessages, when > 0, makes every transaction of more netlink
	// messages than this fail (as a large batch can with ENOBUFS); the
	// table stays as it was. Messages are counted as the backend sends
	// them: one per table, set, map, chain and rule.
	MaxMessages int
	// Hook, when set, is called with the operation ("apply", "update",
	// "reset" or "claim")
	// before the transaction takes effect (Before true) and after
	// (Before false). An error before refuses the transaction; a hook can
	// also block (a slow kernel) or end the calling goroutine
	// (runtime.Goexit, a killed leash) at either point.
	Hook func(op string, before bool) error

	// OtherFirewalls is what Others reports: the other tables' base
	// chains and legacy iptables tables of the fake namespace.
	OtherFirewalls firewalls.Others
	// Clock, when set, makes live set elements expire as its monotonic
	// clock advances (clock.Fake.Advance); nil: they never expire.
	Clock clock.Clock

	aged time.Duration // Clock.Mono when live elements were last aged

	// owner is the connection that owns the table (FakeOwner.Apply made
	// it and is not closed); nil: nobody, anyone may change it.
	owner *FakeOwner
	// persist: the table was made by a FakeOwner (it outlives it and can
	// be claimed in place).
	persist bool

	refuse      []error
	commits     int
	closed      int
	transaction int
}

// ErrRefused is what a transaction refused by RefuseNext fails with unless
// another error is given.
var ErrRefused = errors.New("nft fake: injected refusal")

// NewFake returns a fake kernel without leash's table.
func NewFake() *Fake { return &Fake{} }

// RefuseNext makes the next transaction fail with err (ErrRefused if nil),
// leaving the table unchanged. Calls queue up: one refusal per call.
func (f *Fake) RefuseNext(err error) {
	if err == nil {
		err = ErrRefused
	}
	f.mu.Lock()
	f.refuse = append(f.refuse, err)
	f.mu.Unlock()
}

// Apply atomically replaces the table with rs, as Conn.Apply does. Like
// every change made through the Fake itself (a connection that owns
// nothing), it fails with ErrNotOwner while a FakeOwner owns the table.
func (f *Fake) Apply(rs *ruleset.Ruleset) error { return f.apply(nil, rs) }

func (f *Fake) apply(as *FakeOwner, rs *ruleset.Ruleset) error {
	if err := ruleset.Validate(rs); err != nil {
		return fmt.Errorf("nft fake: apply: %w", err)
	}
	stored, err := kernelForm(rs)
	if err != nil {
		return err
	}
	loadLive(stored)
	return f.transact("apply", messages(rs), func() error {
		if err := f.mayChange(as); err != nil {
			return err
		}
		f.age()
		f.table, f.foreign, f.owner, f.persist = stored, nil, as, as != nil
		return nil
	})
}

// Reset removes the table (idempotent), as Conn.Reset does.
func (f *Fake) Reset() error { return f.reset(nil) }

func (f *Fake) reset(as *FakeOwner) error {
	return f.transact("reset", 1, func() error {
		if err := f.mayChange(as); err != nil {
			return err
		}
		f.table, f.foreign, f.owner, f.persist = nil, nil, nil, false
		return nil
	})
}

// mayChange is the kernel's ownership check (NFT_TABLE_F_OWNER): while an
// open connection owns the table, only it may change it. The caller holds
// f.mu.
func (f *Fake) mayChange(as *FakeOwner) error {
	if f.table != nil && f.owner != nil && f.owner != as {
		return fmt.Errorf("nft fake: %w: %w", ErrNotOwner, syscall.EPERM)
	}
	return nil
}

// transact runs one transaction of n messages through the faults and the
// hook, then commit (under f.mu), which may still refuse it.
func (f *Fake) transact(op string, n int, commit func() error) error {
	if f.Hook != nil {
		if err := f.Hook(op, true); err != nil {
			return err
		}
	}
	f.mu.Lock()
	f.transaction++
	var err error
	switch {
	case len(f.refuse) > 0:
		err, f.refuse = f.refuse[0], f.refuse[1:]
	case f.MaxMessages > 0 && n > f.MaxMessages:
		err = fmt.Errorf("nft fake: %s: %d messages in one batch, more than %d: no buffer space available", op, n, f.MaxMessages)
	default:
		if err = commit(); err == nil {
			f.commits++
		}
	}
	f.mu.Unlock()
	if err != nil {
		return err
	}
	if f.Hook != nil {
		return f.Hook(op, false)
	}
	return nil
}

// Read returns the table as the kernel would report it (a copy), nil if
// there is none, or a *ForeignError after Tamper added foreign content.
func (f *Fake) Read() (*ruleset.Ruleset, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.foreign) > 0 {
		return nil, &ForeignError{Items: append([]string(nil), f.foreign...)}
	}
	f.age()
	if f.table == nil {
		return nil, nil
	}
	return deepCopy(f.table)
}

// Others returns OtherFirewalls.
func (f *Fake) Others() (firewalls.Others, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.OtherFirewalls, nil
}

// Close counts closes; the fake stays usable (each Open of a real
// connection is a new Conn, the table outlives it).
func (f *Fake) Close() error {
	f.mu.Lock()
	f.closed++
	f.mu.Unlock()
	return nil
}

// Tamper edits the table in place as another tool would (`nft add
// element`, `nft delete rule`); foreign, if given, is content leash's
// decoder would not recognise, which Read then reports. Tamper on a
// missing table creates an empty one first.
func (f *Fake) Tamper(edit func(rs *ruleset.Ruleset), foreign ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.table == nil {
		f.table = &ruleset.Ruleset{}
	}
	if edit != nil {
		edit(f.table)
	}
	f.foreign = append(f.foreign, foreign...)
}

// Table returns a copy of the table (nil: none), for assertions.
func (f *Fake) Table() *ruleset.Ruleset {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.age()
	if f.table == nil {
		return nil
	}
	rs, err := deepCopy(f.table)
	if err != nil {
		panic(err) // the table was encoded by Apply: it always round-trips
	}
	return rs
}

// Dump is the table as `nft list table inet leash` would print it ("" when
// there is none).
func (f *Fake) Dump() string {
	rs := f.Table()
	if rs == nil {
		return ""
	}
	return ruleset.Text(rs, ruleset.TextOptions{Counters: true})
}

// Stats counts what happened: transactions attempted, committed, and
// connections closed.
func (f *Fake) Stats() (transactions, commits, closes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.transaction, f.commits, f.closed
}

// kernelForm is rs as the kernel holds it: canonical matches, counters
// zeroed, and of each rule's origin only the ID (its comment).
func kernelForm(rs *ruleset.Ruleset) (*ruleset.Ruleset, error) {
	c, err := deepCopy(ruleset.Canonical(rs))
	if err != nil {
		return nil, err
	}
	for _, ch := range c.Chains {
		for _, r := range ch.Rules {
			r.Origin = ruleset.Origin{ID: r.Origin.ID}
			r.Packets, r.Bytes = 0, 0
		}
	}
	for _, m := range c.Maps {
		m.Origins = nil // the kernel holds the ids only, as element comments
		for i := range m.Entries {
			m.Entries[i].Packets, m.Entries[i].Bytes = 0, 0
		}
	}
	return c, nil
}

// messages is how many netlink messages the backend sends for rs.
func messages(rs *ruleset.Ruleset) int {
	n := 1 + len(rs.Sets) + len(rs.Maps) + len(rs.Chains)
	for _, c := range rs.Chains {
		n += len(c.Rules)
	}
	return n
}

func deepCopy(rs *ruleset.Ruleset) (*ruleset.Ruleset, error) {
	b, err := json.Marshal(rs)
	if err != nil {
		return nil, fmt.Errorf("nft fake: copy table: %w", err)
	}
	var out ruleset.Ruleset
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("nft fake: copy table: %w", err)
	}
	return &out, nil
}
