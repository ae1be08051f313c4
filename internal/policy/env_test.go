package policy

import (
	"net/netip"

	"github.com/google/go-cmp/cmp"
	"github.com/leash-dev/leash/internal/identity"
	"github.com/leash-dev/leash/internal/resolve"
	"github.com/leash-dev/leash/internal/services"
)

// testEnv is a fixed environment: a small directory, a few services and a
// static resolver.
func testEnv() Env {
	dir := &identity.Directory{
		Users: []identity.User{
			{Name: "root", UID: 0, GID: 0},
			{Name: "apache", UID: 48, GID: 48},
			{Name: "alice", UID: 1001, GID: 1001},
			{Name: "bob", UID: 1002, GID: 1500},
			{Name: "carol", UID: 1003, GID: 1003},
		},
		Groups: []identity.Group{
			{Name: "root", GID: 0},
			{Name: "apache", GID: 48},
			{Name: "supporters", GID: 1500, Members: []string{"carol"}},
			{Name: "ops", GID: 1600, Members: []string{"alice"}},
		},
	}
	db := services.New()
	db.Add("https", "tcp", 443)
	db.Add("https", "udp", 443)
	db.Add("domain", "tcp", 53)
	db.Add("domain", "udp", 53)
	db.Add("ssh", "tcp", 22)
	return Env{
		Directory: dir,
		Services:  db,
		Resolver: resolve.Static(map[string][]netip.Addr{
			"mail.example.com":     {netip.MustParseAddr("192.0.2.25"), netip.MustParseAddr("2001:db8::25")},
			"updates.example.org":  {netip.MustParseAddr("198.51.100.10")},
			"security.example.org": {netip.MustParseAddr("198.51.100.11"), netip.MustParseAddr("2001:db8:1::11")},
			"intranet":             {netip.MustParseAddr("10.9.9.9")},
		}),
	}
}

// netipOpts lets cmp compare netip values.
func netipOpts() cmp.Option {
	return cmp.Options{
		cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
		cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
	}
}
