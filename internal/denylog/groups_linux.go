package denylog

import (
	"bufio"
	"bytes"
	"os"
	"strconv"

	"github.com/leash-dev/leash/internal/netns"
)

// groupsFile lists a namespace's bound NFLOG groups; /proc/thread-self/net
// is the namespace of the reading thread.
const groupsFile = "/proc/thread-self/net/netfilter/nfnetlink_log"

// groupBound reports whether some socket has bound NFLOG group in the named
// namespace ("" = the current one). It needs root to read the list.
func groupBound(name string, group uint16) (bool, error) {
	var data []byte
	read := func() (err error) {
		data, err = os.ReadFile(groupsFile)
		return err
	}
	if err := netns.DoIn(name, read); err != nil {
		return false, err
	}
	for _, g := range parseBoundGroups(data) {
		if g == group {
			return true, nil
		}
	}
	return false, nil
}

// parseBoundGroups reads the group numbers (first column) of
// /proc/net/netfilter/nfnetlink_log: "group portid qlen copy_mode copy_range
// flushtimeout use", decimal, one instance per line.
func parseBoundGroups(data []byte) []uint16 {
	var groups []uint16
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) == 0 {
			continue
		}
		if g, err := strconv.ParseUint(string(f[0]), 10, 16); err == nil {
			groups = append(groups, uint16(g))
		}
	}
	return groups
}
