package identity

import (
	"fmt"
	"strconv"
)

// MaxUID is the largest uid a user can have: (uid_t)-1 means "no uid".
const MaxUID = 4294967294

// UserArg reads a command-line user (`--user`): a name in d, else a decimal
// uid (0 to MaxUID). It returns the user (only UID set when no passwd entry
// has it) and whether d knows it. The one parser of --user for every
// command. d may be nil: then only uids are accepted.
func (d *Directory) UserArg(s string) (u User, known bool, err error) {
	if u, ok := d.User(s); ok {
		return u, true, nil
	}
	n, perr := strconv.ParseUint(s, 10, 32)
	switch {
	case perr != nil || s == "" || s[0] == '+':
		return User{}, false, fmt.Errorf("unknown user %q (not in the user database); give a name or a uid", s)
	case n > MaxUID:
		return User{}, false, fmt.Errorf("uid %d is out of range (0 to %d)", n, uint32(MaxUID))
	}
	if u, ok := d.UserByUID(uint32(n)); ok {
		return u, true, nil
	}
	return User{UID: uint32(n)}, false, nil
}
