package nft

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/nftables"
)

// maxReadAttempts bounds the retries of a snapshot read when the ruleset
// keeps changing while it is being read; between attempts the read backs
// off from 1 ms, doubling, to at most maxReadBackoff (about 0.8 s in all).
const (
	maxReadAttempts = 20
	maxReadBackoff  = 50 * time.Millisecond
)

// snapshot runs read, a sequence of dumps, until it completes within one
// ruleset generation of the kernel, and returns its result. Another writer
// (a daemon's hostname refresh, another tool) may commit between two dumps
// or during one: the dumps then disagree, an object listed by one is gone
// for the next (ENOENT), or the kernel flags a dump as interrupted. Whatever
// read returned then, success or error, is discarded and read runs again, at
// most maxReadAttempts times with a growing pause between; an error of a read during which the generation
// did not change is read's answer and comes back as it is.
// nft equivalent: what `nft list` does with NFT_MSG_GETGEN around its dumps.
func snapshot[T any](nc *nftables.Conn, read func() (T, error)) (T, error) {
	var zero T
	for i := range maxReadAttempts {
		if i > 0 {
			time.Sleep(min(time.Millisecond<<(i-1), maxReadBackoff))
		}
		before, err := nc.GetGen()
		if err != nil {
			return zero, fmt.Errorf("generation: %w", err)
		}
		v, rerr := read()
		after, err := nc.GetGen()
		if err != nil {
			return zero, fmt.Errorf("generation: %w", err)
		}
		if before.ID == after.ID && !errors.Is(rerr, errDumpInterrupted) {
			return v, rerr
		}
	}
	return zero, fmt.Errorf("the ruleset changed during %d consecutive reads; try again", maxReadAttempts)
}
