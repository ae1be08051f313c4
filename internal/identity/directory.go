// Package identity is leash's view of the user and group databases.
//
// Why groups are expanded to uids: the kernel's `meta skgid` is the fsgid of
// the task that created the socket (sk->sk_socket->file->f_cred->fsgid),
// frozen at socket creation. It never carries supplementary groups. A policy
// for group "supporters" matched on skgid alone would therefore miss every
// member whose primary group is something else, which is most of them. So
// the policy front end expands each group to the uids of all its members
// (primary and supplementary, see Directory.MemberUIDs) and the compiler
// matches those uids as well as the gid. Membership is read at load time: a
// user added to a group later is not covered until the policy is reloaded.
package identity

import (
	"slices"
	"sync"
)

// User is one passwd entry.
type User struct {
	Name string
	UID  uint32
	GID  uint32 // primary group
	Home string
}

// Group is one group entry. Members are the user names listed as
// supplementary members (the fourth field of group(5)).
type Group struct {
	Name    string
	GID     uint32
	Members []string
}

// Directory is a snapshot of users and groups. Fill Users and Groups before
// the first lookup; lookups by name and uid use an index built then. When a name or id
// appears more than once, the first entry wins, as with NSS.
type Directory struct {
	Users  []User
	Groups []Group

	once  sync.Once
	index *index
}

// index makes name and uid lookups O(1): policies may name 100,000 users.
type index struct {
	byName map[string]int // first user with the name
	byUID  map[uint32]int // first user with the uid
}

// idx builds the index on first use. Users and Groups must not change after
// the first lookup.
func (d *Directory) idx() *index {
	d.once.Do(func() {
		ix := &index{byName: make(map[string]int, len(d.Users)), byUID: make(map[uint32]int, len(d.Users))}
		for i, u := range d.Users {
			if _, dup := ix.byName[u.Name]; !dup {
				ix.byName[u.Name] = i
			}
			if _, dup := ix.byUID[u.UID]; !dup {
				ix.byUID[u.UID] = i
			}
		}
		d.index = ix
	})
	return d.index
}

// User returns the user called name.
func (d *Directory) User(name string) (User, bool) {
	if d == nil {
		return User{}, false
	}
	if i, ok := d.idx().byName[name]; ok {
		return d.Users[i], true
	}
	return User{}, false
}

// UserByUID returns the first user with uid.
func (d *Directory) UserByUID(uid uint32) (User, bool) {
	if d == nil {
		return User{}, false
	}
	if i, ok := d.idx().byUID[uid]; ok {
		return d.Users[i], true
	}
	return User{}, false
}

// Group returns the group called name.
func (d *Directory) Group(name string) (Group, bool) {
	if d == nil {
		return Group{}, false
	}
	for _, g := range d.Groups {
		if g.Name == name {
			return g, true
		}
	}
	return Group{}, false
}

// GroupByGID returns the first group with gid.
func (d *Directory) GroupByGID(gid uint32) (Group, bool) {
	if d == nil {
		return Group{}, false
	}
	for _, g := range d.Groups {
		if g.GID == gid {
			return g, true
		}
	}
	return Group{}, false
}

// MemberUIDs returns the sorted, unique uids of every user whose primary
// group is gid and of every user listed as a supplementary member of a group
// with that gid. Member names that are not known users are ignored.
func (d *Directory) MemberUIDs(gid uint32) []uint32 {
	if d == nil {
		return nil
	}
	var uids []uint32
	for _, u := range d.Users {
		if u.GID == gid {
			uids = append(uids, u.UID)
		}
	}
	for _, g := range d.Groups {
		if g.GID != gid {
			continue
		}
		for _, m := range g.Members {
			if u, ok := d.User(m); ok {
				uids = append(uids, u.UID)
			}
		}
	}
	slices.Sort(uids)
	return slices.Compact(uids)
}

// GroupsOf returns the primary gid of the user with uid and all gids the user
// belongs to (primary first, then supplementary groups sorted). ok is false
// when no user has that uid.
func (d *Directory) GroupsOf(uid uint32) (primary uint32, all []uint32, ok bool) {
	u, ok := d.UserByUID(uid)
	if !ok {
		return 0, nil, false
	}
	var supp []uint32
	for _, g := range d.Groups {
		if g.GID != u.GID && slices.Contains(g.Members, u.Name) {
			supp = append(supp, g.GID)
		}
	}
	slices.Sort(supp)
	return u.GID, append([]uint32{u.GID}, slices.Compact(supp)...), true
}
