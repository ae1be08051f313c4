package safefile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leash-dev/leash/internal/kerneltest"
)

// otherUID owns files in these tests: a uid no test user has.
const otherUID = 4242

func TestCheckTrustedFile(t *testing.T) {
	if os.Geteuid() != 0 {
		kerneltest.Unavailable(t, "needs root to chown to another uid")
	}
	base := t.TempDir()
	mk := func(rel string, mode os.FileMode, uid int, dir bool) string {
		t.Helper()
		p := filepath.Join(base, rel)
		var err error
		if dir {
			err = os.Mkdir(p, 0o700)
		} else {
			err = os.WriteFile(p, []byte("version: 1\n"), 0o600)
		}
		if err == nil {
			err = os.Chmod(p, mode)
		}
		if err == nil {
			err = os.Chown(p, uid, -1)
		}
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := mk("good.yaml", 0o644, 0, false)
	groupW := mk("group-w.yaml", 0o664, 0, false)
	otherW := mk("other-w.yaml", 0o646, 0, false)
	foreign := mk("foreign.yaml", 0o644, otherUID, false)
	mk("userdir", 0o755, otherUID, true)
	inUserDir := mk("userdir/policy.yaml", 0o644, 0, false)
	mk("sticky", 0o777|os.ModeSticky, 0, true)
	inSticky := mk("sticky/policy.yaml", 0o644, 0, false)
	mk("open", 0o777, 0, true)
	inOpen := mk("open/policy.yaml", 0o644, 0, false)
	link := filepath.Join(base, "link.yaml")
	if err := os.Symlink(foreign, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, want string
	}{
		{name: "root's file, 0644", path: good},
		{name: "in a sticky world-writable directory", path: inSticky},
		{name: "group-writable", path: groupW, want: "is writable by its group (mode 0664), so another user could change it; fix: chmod go-w " + groupW},
		{name: "world-writable", path: otherW, want: "is writable by others (mode 0646)"},
		{name: "another user's file", path: foreign, want: "is owned by uid 4242, not by root or uid 0 running leash, so that user could change it; fix: chown root " + foreign},
		{name: "symlink to another user's file", path: link, want: "is owned by uid 4242"},
		{name: "in another user's directory", path: inUserDir, want: filepath.Join(base, "userdir") + ": is owned by uid 4242"},
		{name: "in a world-writable directory", path: inOpen, want: "and not sticky, so another user could replace what is in it; fix: chmod go-w " + filepath.Join(base, "open")},
		{name: "not a file", path: "/dev/null", want: "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckTrustedFile(tt.path)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("CheckTrustedFile: %v", err)
				}
				return
			}
			var fe *Error
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("CheckTrustedFile = %v, want an *Error containing %q", err, tt.want)
			}
		})
	}
}

func TestCheckTrustedDir(t *testing.T) {
	if os.Geteuid() != 0 {
		kerneltest.Unavailable(t, "needs root to chown to another uid")
	}
	base := t.TempDir()
	good := filepath.Join(base, "state")
	if err := os.Mkdir(good, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := CheckTrustedDir(good); err != nil {
		t.Errorf("root's 0700 directory: %v", err)
	}
	if err := CheckTrustedDir(filepath.Join(base, "missing", "state")); err != nil {
		t.Errorf("a directory still to create: %v", err)
	}
	if err := os.Chmod(good, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	if err := CheckTrustedDir(good); err == nil || !strings.Contains(err.Error(), "is writable by its group and others (mode 0777)") {
		t.Errorf("sticky world-writable state directory: %v", err)
	}
	if err := os.Chmod(good, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(good, otherUID, otherUID); err != nil {
		t.Fatal(err)
	}
	if err := CheckTrustedDir(good); err == nil || !strings.Contains(err.Error(), "is owned by uid 4242") {
		t.Errorf("another user's state directory: %v", err)
	}
	if err := CheckTrustedDir(filepath.Join(good, "sub")); err == nil || !strings.Contains(err.Error(), "is owned by uid 4242") {
		t.Errorf("below another user's directory: %v", err)
	}
}
