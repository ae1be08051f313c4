package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/leash-dev/leash/internal/cli"
	"github.com/leash-dev/leash/internal/kerneltest"
)

// TestDirectoryIgnoresHostilePath: a getent first in root's PATH (a
// user-writable directory) that moves root to uid 4242 and invents a user
// does not change the users and groups leash reads.
func TestDirectoryIgnoresHostilePath(t *testing.T) {
	want, err := loadDirectory(context.Background(), cli.EnvOptions{})
	if err != nil || want == nil {
		kerneltest.Unavailable(t, "no user database: %v", err)
	}
	dir := t.TempDir()
	fake := "#!/bin/sh\ncase $1 in passwd) echo 'root:x:4242:4242::/root:/bin/sh'; echo 'FAKE:x:0:0::/:/bin/sh';; group) echo 'root:x:4242:';; esac\n"
	if err := os.WriteFile(filepath.Join(dir, "getent"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
	got, err := loadDirectory(context.Background(), cli.EnvOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.User("FAKE"); ok {
		t.Error("the hostile getent was run: user FAKE exists")
	}
	wantRoot, _ := want.User("root")
	if root, _ := got.User("root"); root.UID != wantRoot.UID {
		t.Errorf("root has uid %d with a hostile PATH, %d without", root.UID, wantRoot.UID)
	}
	if len(got.Users) != len(want.Users) || len(got.Groups) != len(want.Groups) {
		t.Errorf("%d users, %d groups with a hostile PATH; %d, %d without", len(got.Users), len(got.Groups), len(want.Users), len(want.Groups))
	}
}
