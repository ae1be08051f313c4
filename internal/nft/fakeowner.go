package nft

import (
	"fmt"
	"syscall"

	"github.com/leash-dev/leash/internal/ruleset"
)

// FakeOwner is a connection to a Fake that owns the table it creates, as
// nft.Conn with Owning does (NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST): once
// its Apply created the table, changes through any other connection (the
// Fake itself, another FakeOwner, ForeignDelete) fail with ErrNotOwner
// until Close, which leaves the table in force, orphaned; a later Apply by
// any connection takes it over. Close ends the ownership only: the Fake
// stays usable.
type FakeOwner struct {
	*Fake
	closed bool
}

// Owner opens an owning connection to f.
func (f *Fake) Owner() *FakeOwner { return &FakeOwner{Fake: f} }

// Apply replaces the table, which this connection then owns.
func (o *FakeOwner) Apply(rs *ruleset.Ruleset) error { return o.Fake.apply(o.live(), rs) }

// Reset removes the table.
func (o *FakeOwner) Reset() error { return o.Fake.reset(o.live()) }

// UpdateElements changes live set elements of a table this connection
// owns (or that nobody owns).
func (o *FakeOwner) UpdateElements(ops []ruleset.ElementOp) error {
	return o.Fake.updateElements(o.live(), ops)
}

// UpdateSets changes elements of sets and maps of a table this
// connection owns (or that nobody owns).
func (o *FakeOwner) UpdateSets(u *ruleset.ElementsUpdate) error {
	return o.Fake.updateSets(o.live(), u)
}

// Claim takes over an orphaned table in place, as Conn.Claim does: it
// fails (EOPNOTSUPP) for a table a plain connection made or that another
// open FakeOwner owns, and for no table (ENOENT).
func (o *FakeOwner) Claim() error {
	as := o.live()
	return o.Fake.transact("claim", 1, func() error {
		f := o.Fake
		switch {
		case as == nil:
			return fmt.Errorf("nft fake: claim: the connection is closed")
		case f.table == nil:
			return fmt.Errorf("nft fake: claim: %w", syscall.ENOENT)
		case f.owner != nil && f.owner != as:
			return fmt.Errorf("nft fake: claim: %w: %w", ErrNotOwner, syscall.EPERM)
		case !f.persist:
			return fmt.Errorf("nft fake: claim of a table made without the persist flag: %w", syscall.EOPNOTSUPP)
		}
		f.owner = as
		return nil
	})
}

// live is o, or nil once closed (a closed socket owns nothing).
func (o *FakeOwner) live() *FakeOwner {
	o.Fake.mu.Lock()
	defer o.Fake.mu.Unlock()
	if o.closed {
		return nil
	}
	return o
}

// Close closes the owning socket: the table stays, owned by nobody.
func (o *FakeOwner) Close() error {
	o.Fake.mu.Lock()
	defer o.Fake.mu.Unlock()
	o.closed = true
	if o.Fake.owner == o {
		o.Fake.owner = nil
	}
	o.Fake.closed++
	return nil
}

// Owning reports that o creates the table owned by itself.
func (o *FakeOwner) Owning() bool { return true }

// Owns reports whether o owns the table.
func (o *FakeOwner) Owns() (bool, error) {
	o.Fake.mu.Lock()
	defer o.Fake.mu.Unlock()
	return o.Fake.table != nil && o.Fake.owner == o, nil
}

// Owning reports that the Fake itself owns nothing.
func (f *Fake) Owning() bool { return false }

// Owns reports false: the Fake itself owns nothing.
func (f *Fake) Owns() (bool, error) { return false, nil }

// Owned reports whether an open FakeOwner owns the table.
func (f *Fake) Owned() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.table != nil && f.owner != nil
}

// ForeignDelete is another tool removing the table (`nft delete table inet
// leash`, or `nft flush ruleset`, which the kernel makes skip an owned
// table): ErrNotOwner while a FakeOwner owns it, else the table is gone.
// It bypasses faults and the hook (it is not leash's transaction).
func (f *Fake) ForeignDelete() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.table != nil && f.owner != nil {
		return fmt.Errorf("nft fake: delete table inet %s: %w: %w", ruleset.TableName, ErrNotOwner, syscall.EPERM)
	}
	f.table, f.foreign, f.persist = nil, nil, false
	return nil
}
