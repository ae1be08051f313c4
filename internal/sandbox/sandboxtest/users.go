package sandboxtest

import (
	"fmt"
	"os/exec"
	"os/user"
	"strings"
	"testing"
	"time"

	"github.com/leash-dev/leash/internal/kerneltest"
)

// Prefix starts the name of every user and group this package creates.
const Prefix = "lsht-"

// Group is a host group. Name is given without Prefix.
type Group struct {
	Name string
	GID  uint32
}

// UserSpec describes a host user to create. Names are given without Prefix.
// Use ids of 64000 and above, distinct per test package, since packages run
// in parallel.
type UserSpec struct {
	Name string
	UID  uint32
	// Primary is the user's primary group; the zero value means a personal
	// group named like the user with GID = UID.
	Primary Group
	// Supplementary groups, created if missing.
	Supplementary []Group
}

// User is a created user: full name and the credentials a probe should use.
type User struct {
	Name   string
	UID    uint32
	GID    uint32
	Groups []uint32 // supplementary group ids
}

// Users creates real host users and groups (useradd/groupadd) and removes
// them at the end of the test. Leftovers of a killed run with the same names
// are recreated. It needs root (kerneltest.Require).
func Users(t testing.TB, specs ...UserSpec) []User {
	t.Helper()
	kerneltest.Require(t)
	var users []User
	groups := map[string]uint32{}
	for _, spec := range specs {
		u, gs, err := specUser(spec)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range gs {
			if gid, dup := groups[g.Name]; dup && gid != g.GID {
				t.Fatalf("sandboxtest: group %s given gids %d and %d", g.Name, gid, g.GID)
			}
			groups[g.Name] = g.GID
		}
		users = append(users, u)
	}
	t.Cleanup(func() { removeAll(t, users, groups) })
	removeAll(t, users, groups) // leftovers of a killed run
	for name, gid := range groups {
		mustRun(t, "groupadd", "--gid", fmt.Sprint(gid), name)
	}
	for i, u := range users {
		args := []string{"--no-create-home", "--no-user-group", "--shell", "/usr/sbin/nologin",
			"--uid", fmt.Sprint(u.UID), "--gid", fmt.Sprint(u.GID)}
		if names := specs[i].supplementaryNames(); names != "" {
			args = append(args, "--groups", names)
		}
		mustRun(t, "useradd", append(args, u.Name)...)
	}
	return users
}

// specUser resolves a spec into the user to create and the groups it needs.
func specUser(spec UserSpec) (User, []Group, error) {
	if spec.Name == "" || spec.UID < 1000 {
		return User{}, nil, fmt.Errorf("sandboxtest: user spec %+v needs a name and a uid >= 1000", spec)
	}
	primary := spec.primary()
	u := User{Name: Prefix + spec.Name, UID: spec.UID, GID: primary.GID}
	gs := []Group{{Prefix + primary.Name, primary.GID}}
	for _, g := range spec.Supplementary {
		u.Groups = append(u.Groups, g.GID)
		gs = append(gs, Group{Prefix + g.Name, g.GID})
	}
	return u, gs, nil
}

func (spec UserSpec) primary() Group {
	if spec.Primary.Name == "" {
		return Group{Name: spec.Name, GID: spec.UID}
	}
	return spec.Primary
}

func (spec UserSpec) supplementaryNames() string {
	var names []string
	for _, g := range spec.Supplementary {
		names = append(names, Prefix+g.Name)
	}
	return strings.Join(names, ",")
}

// removeAll deletes the users, then the groups, if they exist.
func removeAll(t testing.TB, users []User, groups map[string]uint32) {
	t.Helper()
	for _, u := range users {
		if _, err := user.Lookup(u.Name); err == nil {
			mustRun(t, "userdel", u.Name)
		}
	}
	for name := range groups {
		if _, err := user.LookupGroup(name); err == nil {
			mustRun(t, "groupdel", name)
		}
	}
}

// mustRun runs an account tool, retrying while another process holds the
// account database lock (tests of other packages create users too).
func mustRun(t testing.TB, name string, args ...string) {
	t.Helper()
	var out []byte
	var err error
	for try := 0; try < 50; try++ {
		out, err = exec.Command(name, args...).CombinedOutput()
		if err == nil || !isLockBusy(out) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("sandboxtest: %s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

// isLockBusy recognizes shadow-utils' "cannot lock /etc/passwd; try again
// later" failures.
func isLockBusy(out []byte) bool {
	return strings.Contains(string(out), "cannot lock")
}
