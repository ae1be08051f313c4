package firewalls

import (
	"os"
	"path/filepath"
	"strings"
)

// ReadLegacy lists the legacy iptables tables loaded in the network
// namespace whose /proc/net is procNet (ip_tables_names and
// ip6_tables_names; a missing file means none, as when the x_tables
// modules are not loaded). Use /proc/thread-self/net from a thread in the
// namespace.
func ReadLegacy(procNet string) []Legacy {
	var out []Legacy
	for _, f := range []struct{ file, family string }{{"ip_tables_names", "ip"}, {"ip6_tables_names", "ip6"}} {
		b, err := os.ReadFile(filepath.Join(procNet, f.file))
		if err != nil {
			continue
		}
		for _, name := range strings.Fields(string(b)) {
			out = append(out, Legacy{Family: f.family, Table: name})
		}
	}
	return out
}
