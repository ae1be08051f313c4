// Package policytest is the one test fixture for policies: a fake user and
// group directory with the names the examples use, a fixed services table and
// a static DNS table. Unit and golden tests use the default ids; kernel tests
// pass the uids of real users they created, so the same example files are
// enforced against real processes.
package policytest

import (
	"net/netip"
	"time"

	"github.com/leash-dev/leash/internal/clock"
	"github.com/leash-dev/leash/internal/identity"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/resolve"
	"github.com/leash-dev/leash/internal/services"
)

// IDs are the uids and the gid behind the example names.
//
//	apache, oracle, admin: users named by example policies
//	alice: primary group supporters; bob: supplementary member of supporters
//	carol: no policy names her (judged by the everyone policy, if any)
type IDs struct {
	Apache, Oracle, Admin, Alice, Bob, Carol uint32
	Supporters                               uint32 // gid of group supporters
	Users                                    uint32 // gid of the other users' primary group
}

// DefaultIDs are the ids golden files are written with.
var DefaultIDs = IDs{Apache: 2001, Oracle: 2002, Admin: 2003, Alice: 2004, Bob: 2005, Carol: 2006, Supporters: 3001, Users: 3000}

// Directory returns users and groups with the example names and ids.
func Directory(ids IDs) *identity.Directory {
	u := func(name string, uid, gid uint32) identity.User {
		return identity.User{Name: name, UID: uid, GID: gid, Home: "/home/" + name}
	}
	return &identity.Directory{
		Users: []identity.User{
			u("root", 0, 0),
			u("apache", ids.Apache, ids.Users), u("oracle", ids.Oracle, ids.Users), u("admin", ids.Admin, ids.Users),
			u("alice", ids.Alice, ids.Supporters), u("bob", ids.Bob, ids.Users), u("carol", ids.Carol, ids.Users),
		},
		Groups: []identity.Group{
			{Name: "root", GID: 0},
			{Name: "users", GID: ids.Users},
			{Name: "supporters", GID: ids.Supporters, Members: []string{"bob"}},
		},
	}
}

// Hosts is what the example hostnames resolve to: documentation addresses.
func Hosts() map[string][]netip.Addr {
	a := netip.MustParseAddr
	return map[string][]netip.Addr{
		"mail.example.com":     {a("192.0.2.25"), a("2001:db8::25")},
		"updates.example.org":  {a("192.0.2.80"), a("2001:db8::80")},
		"security.example.org": {a("192.0.2.81")},
		"deb.example.org":      {a("192.0.2.82"), a("2001:db8::82")},
	}
}

// Services is a fixed subset of /etc/services.
func Services() *services.DB {
	db := services.New()
	for _, s := range []struct {
		name, proto string
		port        uint16
	}{
		{"ssh", "tcp", 22}, {"smtp", "tcp", 25}, {"domain", "tcp", 53}, {"domain", "udp", 53},
		{"http", "tcp", 80}, {"ntp", "udp", 123}, {"imap2", "tcp", 143}, {"imap", "tcp", 143},
		{"https", "tcp", 443}, {"https", "udp", 443},
	} {
		db.Add(s.name, s.proto, s.port)
	}
	return db
}

// At is the fixture's load time (time windows are compiled from it), a
// Monday: 2026-12-07 10:00 UTC. The fixture's host zone is UTC.
var At = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

// Env is the complete fixture environment for ids.
func Env(ids IDs) policy.Env {
	return policy.Env{Directory: Directory(ids), Services: Services(), Resolver: resolve.Static(Hosts()),
		Clock: clock.NewFake(At), Zone: time.UTC}
}
