package state

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/leash-dev/leash/internal/kerneltest"
	"github.com/leash-dev/leash/internal/safefile"
)

// otherUID stands for another local user: no test user has it.
const otherUID = 4242

// TestUntrustedDirRefused: a state directory another user owns, or one
// group or others may write, is refused for reading, writing and locking,
// with the fix in the message.
func TestUntrustedDirRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		kerneltest.Unavailable(t, "needs root to chown the directory to another uid")
	}
	tests := []struct {
		name  string
		setup func(dir string) error
		want  string
	}{
		{name: "owned by another user", setup: func(dir string) error { return os.Chown(dir, otherUID, otherUID) },
			want: "is owned by uid 4242, not by root or uid 0 running leash, so that user could change it; fix: chown root"},
		{name: "group-writable", setup: func(dir string) error { return os.Chmod(dir, 0o770) },
			want: "is writable by its group (mode 0770), so another user could plant or replace files in it; fix: chmod go-w"},
		{name: "world-writable and sticky", setup: func(dir string) error { return os.Chmod(dir, 0o777|os.ModeSticky) },
			want: "is writable by its group and others (mode 0777)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Store{Dir: filepath.Join(t.TempDir(), "state")}
			if _, err := s.Save(&Generation{Ruleset: testRuleset()}); err != nil {
				t.Fatal(err)
			}
			if err := tt.setup(s.Dir); err != nil {
				t.Fatal(err)
			}
			ops := map[string]func() error{
				"Lock":    func() error { l, err := s.Lock(context.Background(), LockOptions{}); maybeUnlock(l); return err },
				"Current": func() error { _, err := s.Current(); return err },
				"IDs":     func() error { _, err := s.IDs(); return err },
				"Pending": func() error { _, err := s.Pending(); return err },
				"Intent":  func() error { _, err := s.Intent(); return err },
				"Save":    func() error { _, err := s.Save(&Generation{}); return err },
				"SetPending": func() error {
					return s.SetPending(&Pending{Generation: 1, Deadline: intentTime, Window: "1m"})
				},
			}
			for name, op := range ops {
				err := op()
				var fe *safefile.Error
				if !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("%s = %v, want a *safefile.Error saying %q", name, err, tt.want)
				}
			}
		})
	}
}

func maybeUnlock(l *Lock) {
	if l != nil {
		l.Unlock()
	}
}

// TestLockSymlinkNotFollowed: a symlink at lock (a user's, in a directory
// she could once write) makes Lock fail; the file it points to is not
// truncated or created.
func TestLockSymlinkNotFollowed(t *testing.T) {
	base := t.TempDir()
	victim := filepath.Join(base, "victim")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &Store{Dir: filepath.Join(base, "state")}
	if err := os.Mkdir(s.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, s.LockFile()); err != nil {
		t.Fatal(err)
	}
	created := filepath.Join(base, "created")
	if l, err := s.Lock(context.Background(), LockOptions{}); !errors.Is(err, syscall.ELOOP) {
		maybeUnlock(l)
		t.Fatalf("Lock through a symlink = %v, want ELOOP", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Errorf("the symlink's target was changed: %q", b)
	}
	if err := os.Remove(s.LockFile()); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(created, s.LockFile()); err != nil {
		t.Fatal(err)
	}
	if l, err := s.Lock(context.Background(), LockOptions{}); err == nil {
		l.Unlock()
		t.Fatal("Lock through a dangling symlink succeeded")
	}
	if _, err := os.Lstat(created); !os.IsNotExist(err) {
		t.Errorf("Lock created the symlink's target: %v", err)
	}
}

// TestStateSymlinksNotFollowed: a symlink at current is not read through,
// and writing current replaces the symlink instead of writing its target.
func TestStateSymlinksNotFollowed(t *testing.T) {
	base := t.TempDir()
	s := &Store{Dir: filepath.Join(base, "state")}
	if _, err := s.Save(&Generation{Ruleset: testRuleset()}); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(base, "elsewhere")
	if err := os.WriteFile(target, []byte("1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(s.currentPath()); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, s.currentPath()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CurrentID(); !errors.Is(err, syscall.ELOOP) {
		t.Errorf("CurrentID through a symlink = %v, want ELOOP", err)
	}
	if _, err := s.Save(&Generation{Ruleset: testRuleset()}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "1\n" {
		t.Errorf("Save wrote through the symlink at current: target now %q", b)
	}
	if fi, err := os.Lstat(s.currentPath()); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("current after Save: %v, %v; want a regular file", fi, err)
	}
}
