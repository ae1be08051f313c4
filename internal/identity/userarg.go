package identity

import (
	"fmt"

	"github.com/leash-dev/leash/internal/decimal"
)

// MaxUID is the largest uid a user can have: (uid_t)-1 means "no uid".
const MaxUID = 4294967294

// UserArg reads a command-line user (`--user`): a name in d, or a plain
// decimal uid (0 to MaxUID; 01001, 0x10 or +5 are refused with the decimal
// meant, as in a policy). Text that is both the name of a user and another
// uid (a user called "1000" whose uid is 2001) is refused: leash does not
// guess which was meant. It returns the user (only UID set when no passwd
// entry has it) and whether d knows it. The one parser of --user for every
// command. d may be nil: then only uids are accepted.
func (d *Directory) UserArg(s string) (u User, known bool, err error) {
	named, isName := d.User(s)
	if !decimal.Shaped(s) {
		if isName {
			return named, true, nil
		}
		return User{}, false, fmt.Errorf("unknown user %q (not in the user database); give a name or a uid", s)
	}
	n, perr := decimal.Parse(s)
	switch {
	case isName && perr != nil: // "01001" names a user, and is no uid as written
		return named, true, nil
	case decimal.Spelling(perr):
		return User{}, false, fmt.Errorf("uid %s: %v", s, perr)
	case perr != nil || n > MaxUID: // negative, or too large
		return User{}, false, fmt.Errorf("uid %s is out of range (0 to %d)", s, uint32(MaxUID))
	}
	byUID, hasUID := d.UserByUID(uint32(n))
	if isName && named.UID != uint32(n) {
		other := "uid " + s + " (no user has it)"
		if hasUID {
			other = fmt.Sprintf("uid %s (user %q)", s, byUID.Name)
		}
		return User{}, false, fmt.Errorf("%q is both the name of a user (uid %d) and %s; write %d for the user named %q", s, named.UID, other, named.UID, s)
	}
	switch {
	case isName:
		return named, true, nil
	case hasUID:
		return byUID, true, nil
	}
	return User{UID: uint32(n)}, false, nil
}
