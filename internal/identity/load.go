package identity

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/leash-dev/leash/internal/safefile"
)

// Default paths of the local databases.
const (
	PasswdPath = "/etc/passwd"
	GroupPath  = "/etc/group"
)

// Runner runs a command and returns its standard output. It is injected so
// that loaders can be tested without running anything; exec.CommandContext
// with Output is the real one.
type Runner func(ctx context.Context, name string, args ...string) ([]byte, error)

// LoadFiles reads a passwd and a group file (regular files of at most
// safefile.MaxSize). When lines were malformed it
// returns the directory of the good lines together with an error naming the
// bad ones; the caller may treat that error as a warning. A file that cannot
// be read returns a nil Directory.
func LoadFiles(passwdPath, groupPath string) (*Directory, error) {
	pw, err := safefile.Read(passwdPath)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	gr, err := safefile.Read(groupPath)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	return parseBoth(pw, gr, passwdPath, groupPath)
}

// LoadGetent runs `getent passwd` and `getent group`, which also list users
// from LDAP, sssd and other NSS sources when their enumeration is enabled.
// Errors are as for LoadFiles; a failing command returns a nil Directory.
func LoadGetent(ctx context.Context, run Runner) (*Directory, error) {
	pw, err := run(ctx, "getent", "passwd")
	if err != nil {
		return nil, fmt.Errorf("identity: getent passwd: %w", err)
	}
	gr, err := run(ctx, "getent", "group")
	if err != nil {
		return nil, fmt.Errorf("identity: getent group: %w", err)
	}
	return parseBoth(pw, gr, "getent passwd", "getent group")
}

// LoadSystem loads the directory through getent when run is not nil and
// getent works, and from /etc/passwd and /etc/group otherwise.
func LoadSystem(ctx context.Context, run Runner) (*Directory, error) {
	if run != nil {
		d, err := LoadGetent(ctx, run)
		if d != nil {
			return d, err
		}
	}
	return LoadFiles(PasswdPath, GroupPath)
}

// parseBoth parses passwd and group contents; src names them in errors.
func parseBoth(pw, gr []byte, pwSrc, grSrc string) (*Directory, error) {
	users, uerr := ParsePasswd(bytes.NewReader(pw))
	groups, gerr := ParseGroup(bytes.NewReader(gr))
	var errs []error
	if uerr != nil {
		errs = append(errs, fmt.Errorf("identity: %s: %w", pwSrc, uerr))
	}
	if gerr != nil {
		errs = append(errs, fmt.Errorf("identity: %s: %w", grSrc, gerr))
	}
	return &Directory{Users: users, Groups: groups}, errors.Join(errs...)
}
