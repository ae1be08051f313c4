package identity

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ParsePasswd reads passwd(5) lines `name:pw:uid:gid:gecos:home:shell`.
// Blank lines, comments and NIS compat lines (starting with + or -) are
// skipped. Malformed lines are skipped as well and reported in the returned
// error, one entry per line naming its number; the well-formed users are
// returned alongside. A read error returns nil users.
func ParsePasswd(r io.Reader) ([]User, error) {
	var users []User
	err := eachLine(r, func(fields []string) error {
		if len(fields) < 4 {
			return fmt.Errorf("want at least 4 colon-separated fields, got %d", len(fields))
		}
		uid, err := parseID(fields[2], "uid")
		if err != nil {
			return err
		}
		gid, err := parseID(fields[3], "gid")
		if err != nil {
			return err
		}
		u := User{Name: fields[0], UID: uid, GID: gid}
		if len(fields) > 5 {
			u.Home = fields[5]
		}
		users = append(users, u)
		return nil
	})
	return users, err
}

// ParseGroup reads group(5) lines `name:pw:gid:member,member`. Skipping and
// error reporting are as for ParsePasswd.
func ParseGroup(r io.Reader) ([]Group, error) {
	var groups []Group
	err := eachLine(r, func(fields []string) error {
		if len(fields) < 3 {
			return fmt.Errorf("want at least 3 colon-separated fields, got %d", len(fields))
		}
		gid, err := parseID(fields[2], "gid")
		if err != nil {
			return err
		}
		g := Group{Name: fields[0], GID: gid}
		if len(fields) > 3 {
			for m := range strings.SplitSeq(fields[3], ",") {
				if m = strings.TrimSpace(m); m != "" {
					g.Members = append(g.Members, m)
				}
			}
		}
		groups = append(groups, g)
		return nil
	})
	return groups, err
}

// eachLine calls parse with the colon-separated fields of every line that
// is not blank, a comment or a NIS compat line, and collects its errors.
func eachLine(r io.Reader, parse func(fields []string) error) error {
	var bad []error
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '+' || line[0] == '-' {
			continue
		}
		fields := strings.Split(line, ":")
		if fields[0] == "" {
			bad = append(bad, fmt.Errorf("line %d: empty name", n))
			continue
		}
		if err := parse(fields); err != nil {
			bad = append(bad, fmt.Errorf("line %d: %w", n, err))
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return errors.Join(bad...)
}

// parseID parses a uid or gid. (uid_t)-1 is not a valid id.
func parseID(s, what string) (uint32, error) {
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil || v == 1<<32-1 {
		return 0, fmt.Errorf("bad %s %q", what, s)
	}
	return uint32(v), nil
}
