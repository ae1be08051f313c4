package sandboxtest

import (
	"os/exec"
	"os/user"
	"slices"
	"testing"

	"github.com/leash-dev/leash/internal/kerneltest"
)

func TestUsersCreatesReplacesAndRemoves(t *testing.T) {
	kerneltest.Require(t)
	// A leftover of a killed run, with the wrong uid.
	mustRun(t, "useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", "--uid", "64950", Prefix+"leftover")

	var users []User
	t.Run("create", func(t *testing.T) {
		club := Group{Name: "club", GID: 64960}
		users = Users(t,
			UserSpec{Name: "leftover", UID: 64951, Primary: club},
			UserSpec{Name: "guest", UID: 64952, Supplementary: []Group{club}},
		)
		want := []User{
			{Name: Prefix + "leftover", UID: 64951, GID: 64960},
			{Name: Prefix + "guest", UID: 64952, GID: 64952, Groups: []uint32{64960}},
		}
		if !slices.EqualFunc(users, want, func(a, b User) bool {
			return a.Name == b.Name && a.UID == b.UID && a.GID == b.GID && slices.Equal(a.Groups, b.Groups)
		}) {
			t.Errorf("Users = %+v, want %+v", users, want)
		}
		u, err := user.Lookup(Prefix + "leftover")
		if err != nil || u.Uid != "64951" {
			t.Errorf("lookup leftover: %+v, %v; want uid 64951", u, err)
		}
		out, err := exec.Command("id", "-G", Prefix+"guest").Output()
		if err != nil || string(out) != "64952 64960\n" {
			t.Errorf("id -G guest = %q, %v; want 64952 64960", out, err)
		}
	})
	for _, name := range []string{Prefix + "leftover", Prefix + "guest"} {
		if _, err := user.Lookup(name); err == nil {
			t.Errorf("user %s still exists after the test", name)
		}
	}
	for _, name := range []string{Prefix + "club", Prefix + "guest"} {
		if _, err := user.LookupGroup(name); err == nil {
			t.Errorf("group %s still exists after the test", name)
		}
	}
}
