package identity

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const testPasswd = `root:x:0:0:root:/root:/bin/bash
# a comment

apache:x:48:48:Apache:/usr/share/httpd:/sbin/nologin
alice:x:1001:1001::/home/alice:/bin/bash
bob:x:1002:1500::/home/bob:/bin/bash
+nisuser
broken:x:abc:1
short:x
carol:x:1003:1003::/home/carol:/bin/bash
`

const testGroup = `root:x:0:
supporters:x:1500:alice, carol
alice:x:1001:
-nisgroup
bad:x:
carol:x:1003:
other:x:1600:bob,ghost
`

func testDirectory(t *testing.T) *Directory {
	t.Helper()
	d, err := parseBoth([]byte(testPasswd), []byte(testGroup), "passwd", "group")
	if err == nil {
		t.Fatal("want error for malformed lines")
	}
	for _, want := range []string{"passwd: line 8:", "\nline 9:", "group: line 5:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	return d
}

func TestParse(t *testing.T) {
	d := testDirectory(t)
	wantUsers := []User{
		{Name: "root", Home: "/root"},
		{Name: "apache", UID: 48, GID: 48, Home: "/usr/share/httpd"},
		{Name: "alice", UID: 1001, GID: 1001, Home: "/home/alice"},
		{Name: "bob", UID: 1002, GID: 1500, Home: "/home/bob"},
		{Name: "carol", UID: 1003, GID: 1003, Home: "/home/carol"},
	}
	if diff := cmp.Diff(wantUsers, d.Users); diff != "" {
		t.Errorf("users (-want +got):\n%s", diff)
	}
	wantGroups := []Group{
		{Name: "root"},
		{Name: "supporters", GID: 1500, Members: []string{"alice", "carol"}},
		{Name: "alice", GID: 1001},
		{Name: "carol", GID: 1003},
		{Name: "other", GID: 1600, Members: []string{"bob", "ghost"}},
	}
	if diff := cmp.Diff(wantGroups, d.Groups); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
}

func TestLookups(t *testing.T) {
	d := testDirectory(t)
	tests := []struct {
		name    string
		gid     uint32
		members []uint32
	}{
		{name: "primary and supplementary", gid: 1500, members: []uint32{1001, 1002, 1003}},
		{name: "unknown member ignored", gid: 1600, members: []uint32{1002}},
		{name: "primary only", gid: 1001, members: []uint32{1001}},
		{name: "unknown gid", gid: 4242},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.members, d.MemberUIDs(tt.gid)); diff != "" {
				t.Errorf("MemberUIDs(%d) (-want +got):\n%s", tt.gid, diff)
			}
		})
	}
	if u, ok := d.User("bob"); !ok || u.UID != 1002 {
		t.Errorf("User(bob) = %v, %v", u, ok)
	}
	if u, ok := d.UserByUID(1003); !ok || u.Name != "carol" {
		t.Errorf("UserByUID(1003) = %v, %v", u, ok)
	}
	if g, ok := d.Group("supporters"); !ok || g.GID != 1500 {
		t.Errorf("Group(supporters) = %v, %v", g, ok)
	}
	if g, ok := d.GroupByGID(1600); !ok || g.Name != "other" {
		t.Errorf("GroupByGID(1600) = %v, %v", g, ok)
	}
	if _, ok := d.User("ghost"); ok {
		t.Error("User(ghost) found")
	}
	primary, all, ok := d.GroupsOf(1002)
	if diff := cmp.Diff([]uint32{1500, 1600}, all); !ok || primary != 1500 || diff != "" {
		t.Errorf("GroupsOf(1002) = %d, %v, %v", primary, all, ok)
	}
	if _, _, ok := d.GroupsOf(7); ok {
		t.Error("GroupsOf(7) found")
	}
}

func TestLoadGetent(t *testing.T) {
	var calls []string
	run := func(_ context.Context, name string, args ...string) ([]byte, error) {
		calls = append(calls, name+" "+strings.Join(args, " "))
		switch args[0] {
		case "passwd":
			return []byte("alice:x:1001:1001::/home/alice:/bin/bash\n"), nil
		case "group":
			return []byte("supporters:x:1500:alice\n"), nil
		}
		return nil, errors.New("unexpected")
	}
	d, err := LoadGetent(context.Background(), run)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"getent passwd", "getent group"}, calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]uint32{1001}, d.MemberUIDs(1500)); diff != "" {
		t.Errorf("MemberUIDs (-want +got):\n%s", diff)
	}
}

func TestLoadGetentFails(t *testing.T) {
	run := func(context.Context, string, ...string) ([]byte, error) {
		return nil, errors.New("exec: \"getent\": executable file not found")
	}
	if d, err := LoadGetent(context.Background(), run); d != nil || err == nil {
		t.Errorf("LoadGetent = %v, %v; want nil, error", d, err)
	}
}

func TestLoadFiles(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "passwd")
	gr := filepath.Join(dir, "group")
	if err := os.WriteFile(pw, []byte("alice:x:1001:1001::/home/alice:/bin/bash\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(gr, []byte("alice:x:1001:\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := LoadFiles(pw, gr)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.Group("alice"); !ok {
		t.Error("group alice missing")
	}
	if _, err := LoadFiles(filepath.Join(dir, "nope"), gr); err == nil {
		t.Error("missing file: no error")
	}
}
