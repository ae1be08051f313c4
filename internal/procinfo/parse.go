package procinfo

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// ParseSocketLink returns N for an fd link target "socket:[N]" (the form
// readlink gives for /proc/PID/fd/FD of a socket), and false for anything
// else.
func ParseSocketLink(target string) (uint64, bool) {
	rest, ok := strings.CutPrefix(target, "socket:[")
	if !ok {
		return 0, false
	}
	num, ok := strings.CutSuffix(rest, "]")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(num, 10, 64)
	return n, err == nil
}

// Creds are the ids of /proc/PID/status's Uid: and Gid: lines.
type Creds struct {
	UID, EUID, SUID, FSUID uint32
	GID, EGID, SGID, FSGID uint32
}

// ParseStatus reads the credentials from the contents of /proc/PID/status.
func ParseStatus(data []byte) (Creds, error) {
	var c Creds
	var seen int
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "Uid" && key != "Gid") {
			continue
		}
		ids, err := parseIDs(val)
		if err != nil {
			return Creds{}, fmt.Errorf("status %s: %w", key, err)
		}
		if key == "Uid" {
			c.UID, c.EUID, c.SUID, c.FSUID = ids[0], ids[1], ids[2], ids[3]
		} else {
			c.GID, c.EGID, c.SGID, c.FSGID = ids[0], ids[1], ids[2], ids[3]
		}
		seen++
	}
	if err := sc.Err(); err != nil {
		return Creds{}, fmt.Errorf("status: %w", err)
	}
	if seen != 2 {
		return Creds{}, fmt.Errorf("status: no Uid and Gid lines")
	}
	return c, nil
}

// parseIDs reads the four ids (real, effective, saved, filesystem) of a
// Uid: or Gid: line.
func parseIDs(val string) ([4]uint32, error) {
	var ids [4]uint32
	f := strings.Fields(val)
	if len(f) != 4 {
		return ids, fmt.Errorf("%q has %d fields, want 4", val, len(f))
	}
	for i, s := range f {
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return ids, fmt.Errorf("%q: %w", val, err)
		}
		ids[i] = uint32(n)
	}
	return ids, nil
}

// ParseCmdline splits the contents of /proc/PID/cmdline (arguments, each
// ended by NUL) into arguments. It is empty for kernel threads and zombies.
// Trailing NULs are dropped: programs that rewrite their title pad it with
// them (so trailing empty arguments are lost).
func ParseCmdline(data []byte) []string {
	data = bytes.TrimRight(data, "\x00")
	if len(data) == 0 {
		return nil
	}
	return strings.Split(string(data), "\x00")
}

// ParseCgroup picks the process's cgroup path from the contents of
// /proc/PID/cgroup ("HIERARCHY:CONTROLLERS:PATH" lines). The rule: the
// cgroup v2 line ("0::PATH") when its path is not the root; otherwise the
// path of the "name=systemd" v1 hierarchy (hybrid and legacy systemd hosts
// keep their units there); otherwise the v2 path, root included; "" when
// there is neither.
func ParseCgroup(data []byte) string {
	v2, haveV2 := CgroupV2(data)
	var systemd string
	for _, line := range strings.Split(string(data), "\n") {
		if parts := strings.SplitN(line, ":", 3); len(parts) == 3 && parts[1] == "name=systemd" {
			systemd = parts[2]
		}
	}
	switch {
	case haveV2 && v2 != "/":
		return v2
	case systemd != "":
		return systemd
	}
	return v2
}

// CgroupV2 picks the cgroup v2 path ("0::PATH") from the contents of
// /proc/PID/cgroup, as written there (leading slash); ok is false when
// there is no such line.
func CgroupV2(data []byte) (path string, ok bool) {
	for _, line := range strings.Split(string(data), "\n") {
		if rest, found := strings.CutPrefix(line, "0::"); found {
			return rest, true
		}
	}
	return "", false
}

// UnitOf names the systemd units of a cgroup path. unit is the system unit:
// the first path component, after any number of slices (".slice"), that is a
// service or a scope; a process in a sub-cgroup a service made for itself
// still belongs to the service. userUnit is the unit inside a user manager:
// when unit is "user@UID.service", the first service or scope below it,
// again after slices. Both are "" when the path has no such component (the
// root cgroup, a container manager's own tree), and the first component
// that is neither slice, service nor scope ends the search.
//
//	/system.slice/nginx.service                             nginx.service
//	/system.slice/docker-0123.scope                         docker-0123.scope
//	/user.slice/user-1000.slice/session-3.scope             session-3.scope
//	/user.slice/user-1000.slice/user@1000.service/app.slice/firefox.service
//	                                        user@1000.service, firefox.service
//	/init.scope                                             init.scope
func UnitOf(path string) (unit, userUnit string) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i := 0; i < len(parts); i++ {
		c := parts[i]
		switch {
		case strings.HasSuffix(c, ".slice"):
			continue
		case isUnit(c) && unit == "":
			unit = c
			if !strings.HasPrefix(c, "user@") || !strings.HasSuffix(c, ".service") {
				return unit, ""
			}
		case isUnit(c):
			return unit, c
		default:
			return unit, ""
		}
	}
	return unit, ""
}

func isUnit(c string) bool {
	return strings.HasSuffix(c, ".service") || strings.HasSuffix(c, ".scope")
}
