package denylog

import (
	"fmt"
	"net"

	"github.com/leash-dev/leash/internal/netns"
)

// ifnameCache names interfaces by index in the reader's network namespace,
// caching each name: denials are rate-limited, and an interface index is
// not reused while the interface exists. Not safe for concurrent use (the
// reader's receive goroutine owns it).
type ifnameCache struct {
	ns    string
	names map[uint32]string
}

// maxIfnames bounds the cache (interfaces come and go: veths of containers).
const maxIfnames = 1024

func newIfnameCache(ns string) *ifnameCache { return &ifnameCache{ns: ns, names: map[uint32]string{}} }

// name is the interface's name, or "ifN" when it cannot be found.
func (c *ifnameCache) name(index uint32) string {
	if n, ok := c.names[index]; ok {
		return n
	}
	name := fmt.Sprintf("if%d", index)
	_ = netns.DoIn(c.ns, func() error { // best effort: the index names the interface otherwise
		ifc, err := net.InterfaceByIndex(int(index))
		if err == nil {
			name = ifc.Name
		}
		return err
	})
	if len(c.names) >= maxIfnames {
		clear(c.names)
	}
	c.names[index] = name
	return name
}
