package cgroups

import (
	"fmt"
	"strings"
)

// unitSuffixes are the unit types that have a cgroup of their own.
var unitSuffixes = []string{".service", ".socket", ".scope", ".slice", ".mount", ".swap"}

// UnitPaths is where systemd puts unit u's processes by its naming
// convention (with no Slice= in the unit): the cgroup paths a `units:`
// entry governs.
//
//   - NAME.service, .socket, .scope, .mount, .swap: system.slice/NAME;
//     a template instance P@I.service: system.slice/system-P.slice/P@I.service;
//   - A-B.slice: A.slice/A-B.slice (each dash a level); -.slice is refused
//     (the root is not governed);
//   - NAME.service (not a template instance) also governs NAME.socket,
//     the socket unit that activates it (its ExecStartPre and the sockets
//     it makes itself).
//
// It returns an error for a name that is not a unit with a cgroup.
func UnitPaths(u string) ([]string, error) {
	suffix := ""
	for _, s := range unitSuffixes {
		if strings.HasSuffix(u, s) && len(u) > len(s) {
			suffix = s
		}
	}
	stem := strings.TrimSuffix(u, suffix)
	switch {
	case suffix == "":
		return nil, fmt.Errorf("%q is not a unit with a cgroup: give its type (%s)", u, strings.Join(unitSuffixes, ", "))
	case strings.ContainsAny(u, "/\x00 \t") || len(u) > 255:
		return nil, fmt.Errorf("%q is not a unit name", u)
	case suffix == ".slice":
		if stem == "-" || strings.HasPrefix(stem, "-") || strings.HasSuffix(stem, "-") || strings.Contains(stem, "--") {
			return nil, fmt.Errorf("%q: the root slice and slice names with an empty part cannot be governed", u)
		}
		parts := strings.Split(stem, "-")
		var path []string
		for i := range parts {
			path = append(path, strings.Join(parts[:i+1], "-")+".slice")
		}
		return []string{strings.Join(path, "/")}, nil
	}
	dir := "system.slice"
	at := strings.IndexByte(stem, '@')
	switch {
	case at == 0:
		return nil, fmt.Errorf("%q is not a unit name", u)
	case at > 0:
		dir += "/system-" + stem[:at] + ".slice"
	}
	out := []string{dir + "/" + u}
	if suffix == ".service" && at < 0 {
		out = append(out, dir+"/"+stem+".socket")
	}
	return out, nil
}
