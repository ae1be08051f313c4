package nft

import (
	"errors"

	"github.com/leash-dev/leash/internal/ruleset"
)

// ErrNotOwner is what a change fails with when `table inet leash` is owned
// (NFT_TABLE_F_OWNER) by another netlink socket: a running leash daemon.
// The kernel answers EPERM; errors.Is(err, syscall.EPERM) holds as well.
var ErrNotOwner = errors.New("table inet " + ruleset.TableName + " is owned by another process (a running leash daemon): only it may change the table")

// Ownership is who holds `table inet leash`.
type Ownership struct {
	// Exists: the kernel has the table.
	Exists bool
	// Owned: the table is owned by a socket (NFT_TABLE_F_OWNER);
	// Persist: it stays when that socket closes.
	Owned, Persist bool
	// Mine: it is owned by this Conn's socket.
	Mine bool
	// OwnerPort is the owning socket's netlink port id (0: none).
	OwnerPort uint32
}
