package engine

import (
	"errors"
	"fmt"

	"github.com/leash-dev/leash/internal/drift"
	"github.com/leash-dev/leash/internal/nft"
	"github.com/leash-dev/leash/internal/ruleset"
)

// Observe reads leash's table; content leash did not write is reported in
// the result, not as an error.
func Observe(k Kernel) (drift.Observed, error) {
	rs, err := k.Read()
	var fe *nft.ForeignError
	if errors.As(err, &fe) {
		return drift.Observed{Exists: true, Foreign: fe.Items}, nil
	}
	if err != nil {
		return drift.Observed{}, readError(err)
	}
	return drift.Observed{Exists: rs != nil, Table: rs}, nil
}

// readError words a failed read of the table.
func readError(err error) error {
	return fmt.Errorf("read table inet %s: %w", ruleset.TableName, err)
}
