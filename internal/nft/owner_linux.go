package nft

import (
	"errors"
	"fmt"
	"sync"

	"github.com/google/nftables"
	"github.com/leash-dev/leash/internal/ruleset"
	"golang.org/x/sys/unix"
)

// owner is the one long-lived netlink socket an owning Conn sends every
// change on. The kernel ties an owned table to the socket that created it:
// only that socket may change or delete it, `nft flush ruleset` skips it,
// and with NFT_TABLE_F_PERSIST the table stays, orphaned, when the socket
// closes (fail closed).
type owner struct {
	mu sync.Mutex // one batch at a time on the shared socket
	nc *nftables.Conn
}

// Owning makes the Conn keep one netlink socket open for as long as it is
// open (until Close) and create `table inet leash` owned by it and
// persistent (NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST): while the Conn is
// open no other process can change, delete or flush the table; when it
// closes (or the process dies) the table stays in force and becomes
// changeable by anyone again, until an owning Conn takes it over (Claim).
// This is the daemon's connection; the command line's Conns own nothing.
//
// nft equivalent: none (nft has no long-lived socket); `nft list table inet
// leash` shows `flags owner,persist`.
func Owning() Option { return func(c *Conn) { c.own = &owner{} } }

// openOwner opens the owning socket.
func (c *Conn) openOwner() error {
	fd, err := c.nsFd()
	if err != nil {
		return err
	}
	nc, err := nftables.New(nftables.WithNetNSFd(fd), nftables.AsLasting())
	if err != nil {
		return fmt.Errorf("nft: open the owning netlink socket: %w", err)
	}
	c.own.nc = nc
	return nil
}

// Close closes the owning socket, if any: an owned table stays, orphaned
// but in force. A Conn that owns nothing holds no socket; Close is then a
// no-op. Idempotent.
func (c *Conn) Close() error {
	if c.own == nil || c.own.nc == nil {
		return nil
	}
	c.own.mu.Lock()
	defer c.own.mu.Unlock()
	return c.own.nc.CloseLasting()
}

// tableFlags are the flags `table inet leash` is created with.
func (c *Conn) tableFlags() nftables.TableFlags {
	if c.own != nil {
		return nftables.TableFlagOwner | nftables.TableFlagPersist
	}
	return 0
}

// change runs fn, which buffers one transaction on nc and flushes it, on
// the owning socket (one change at a time) or on a fresh connection. If fn
// fails before its Flush, what it buffered is discarded so that it never
// rides along with the next change on the shared socket. An EPERM from the
// kernel is reported as ErrNotOwner.
func (c *Conn) change(fn func(nc *nftables.Conn) error) error {
	if c.own == nil {
		nc, err := c.nft()
		if err != nil {
			return err
		}
		return notOwner(fn(nc))
	}
	c.own.mu.Lock()
	defer c.own.mu.Unlock()
	err := fn(c.own.nc)
	if err != nil {
		discard(c.own.nc)
	}
	return notOwner(err)
}

// discard drops the messages buffered on nc without sending them: Flush
// returns a connection's first buffering error instead of sending, and
// clears the buffer either way; an update of an anonymous set is such an
// error.
func discard(nc *nftables.Conn) {
	_ = nc.SetAddElements(&nftables.Set{Anonymous: true}, nil)
	_ = nc.Flush()
}

// notOwner marks the kernel's EPERM on leash's table as ErrNotOwner (leash
// runs as root: EPERM means another socket owns the table).
func notOwner(err error) error {
	if err != nil && errors.Is(err, unix.EPERM) && !errors.Is(err, ErrNotOwner) {
		return fmt.Errorf("%w: %w", ErrNotOwner, err)
	}
	return err
}

// Ownership reads the table's flags and owner.
// nft equivalent: `nft list table inet leash` (`flags owner,persist`).
func (c *Conn) Ownership() (Ownership, error) {
	nc, err := c.nft()
	if err != nil {
		return Ownership{}, err
	}
	t, err := nc.ListTableOfFamily(ruleset.TableName, nftables.TableFamilyINet)
	switch {
	case errors.Is(err, unix.ENOENT):
		return Ownership{}, nil
	case err != nil:
		return Ownership{}, fmt.Errorf("nft: look up table inet %s: %w", ruleset.TableName, err)
	}
	o := Ownership{Exists: true, Owned: t.Flags&nftables.TableFlagOwner != 0, Persist: t.Flags&nftables.TableFlagPersist != 0, OwnerPort: t.Owner}
	if o.Owned && c.own != nil {
		c.own.mu.Lock()
		port, err := c.own.nc.GetPortID()
		c.own.mu.Unlock()
		if err != nil {
			return Ownership{}, fmt.Errorf("nft: port id of the owning socket: %w", err)
		}
		o.Mine = port == t.Owner
	}
	return o, nil
}

// Owns reports whether this Conn's socket owns `table inet leash` (false
// for a Conn that owns nothing, or when there is no table).
func (c *Conn) Owns() (bool, error) {
	if c.own == nil {
		return false, nil
	}
	o, err := c.Ownership()
	return o.Mine, err
}

// Owning reports whether c is an owning Conn (Owning).
func (c *Conn) Owning() bool { return c.own != nil }

// Claim takes over an orphaned `table inet leash` in place: one left by an
// owning Conn that closed (a daemon that died or restarted), which keeps
// NFT_TABLE_F_PERSIST and has no owner. The table's content and counters
// are untouched; from then on only c may change it. The kernel (6.18)
// refuses a claim of a table made without the persist flag (a plain `leash
// apply` while no daemon ran: EOPNOTSUPP) and of one another socket owns
// (EPERM); replace such a table with Apply instead, which succeeds on any
// table no live socket owns. Only for an owning Conn.
// nft equivalent: none (nft 1.0.6 cannot set owner flags).
func (c *Conn) Claim() error {
	if c.own == nil {
		return errors.New("nft: claim: this connection owns nothing (not opened with Owning)")
	}
	return c.change(func(nc *nftables.Conn) error {
		t := table()
		t.Flags = c.tableFlags()
		nc.AddTable(t)
		if err := nc.Flush(); err != nil {
			return fmt.Errorf("nft: claim table inet %s: %w", ruleset.TableName, err)
		}
		return nil
	})
}
