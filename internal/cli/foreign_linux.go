package cli

import (
	"errors"

	"github.com/leash-dev/leash/internal/nft"
)

// foreignItems returns the items of an nft.ForeignError in err's chain: the
// content of leash's table that leash did not write.
func foreignItems(err error) ([]string, bool) {
	var fe *nft.ForeignError
	if errors.As(err, &fe) {
		return fe.Items, true
	}
	return nil, false
}
