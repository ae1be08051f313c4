package resolve

import (
	"bufio"
	"io"
	"net/netip"
	"strings"
)

// parseHosts reads hosts(5) content and returns the addresses of name
// (matched case-insensitively, trailing dot ignored). Malformed lines are
// skipped, as the C library does. Zoned addresses are ignored.
func parseHosts(r io.Reader, name string) ([]netip.Addr, error) {
	want := canonical(name)
	var addrs []netip.Addr
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		addr, err := netip.ParseAddr(fields[0])
		if err != nil || addr.Zone() != "" {
			continue
		}
		for _, h := range fields[1:] {
			if canonical(h) == want {
				addrs = append(addrs, addr.Unmap())
				break
			}
		}
	}
	return sortUnique(addrs), sc.Err()
}
