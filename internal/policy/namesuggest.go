package policy

import "github.com/leash-dev/leash/internal/identity"

// Bounds of "did you mean" for unknown users and groups: the directory may
// be an LDAP one with very many names, and a file may misspell many.
const (
	maxSuggestNames = 50000 // a larger directory gets no suggestion
	maxSuggestions  = 10    // per file; later unknown names get none
)

// nameSuggester offers the closest user or group name for a misspelled one
// (suggest), collecting the directory's names once.
type nameSuggester struct {
	users, groups []string
	collected     bool
	offered       int
}

// user is "; did you mean \"NAME\"?" for got, or "".
func (n *nameSuggester) user(d *identity.Directory, got string) string {
	if !n.ready(d) {
		return ""
	}
	return suggest(got, n.users)
}

// group is user for groups.
func (n *nameSuggester) group(d *identity.Directory, got string) string {
	if !n.ready(d) {
		return ""
	}
	return suggest(got, n.groups)
}

// ready collects the names and counts the suggestion; false once the
// bounds are reached.
func (n *nameSuggester) ready(d *identity.Directory) bool {
	if d == nil || n.offered >= maxSuggestions {
		return false
	}
	n.offered++
	if !n.collected {
		n.collected = true
		if len(d.Users) <= maxSuggestNames {
			for _, u := range d.Users {
				n.users = append(n.users, u.Name)
			}
		}
		if len(d.Groups) <= maxSuggestNames {
			for _, g := range d.Groups {
				n.groups = append(n.groups, g.Name)
			}
		}
	}
	return true
}
