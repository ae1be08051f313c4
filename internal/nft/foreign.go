package nft

import (
	"fmt"
	"strings"

	"github.com/leash-dev/leash/internal/ruleset"
)

// ForeignError reports content of `table inet leash` that leash did not
// write: anything that does not decode to the IR vocabulary (an edited rule,
// an extra expression, a set of another type, a chain with policy drop...).
// It names the chain and rule handle, or the set, of every such item.
type ForeignError struct {
	Items []string
}

func (e *ForeignError) Error() string {
	return fmt.Sprintf("nft: table inet %s holds content leash did not write (tampered?): %s",
		ruleset.TableName, strings.Join(e.Items, "; "))
}
