package state

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Two holders in one process (separate open file descriptions, as two
// leash processes have) exclude each other; the second waits, sees who
// holds the lock, and gets it once the first lets go.
func TestLockExcludes(t *testing.T) {
	s := &Store{Dir: t.TempDir() + "/state"}
	first, err := s.Lock(context.Background(), LockOptions{Holder: Holder{Command: "leash apply a.yaml", Since: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu      sync.Mutex
		waitMsg string
		got     = make(chan error, 1)
	)
	go func() {
		l, err := s.Lock(context.Background(), LockOptions{Timeout: 10 * time.Second, Waiting: func(path string, h Holder) {
			mu.Lock()
			defer mu.Unlock()
			waitMsg = path + ": " + h.String()
		}})
		if err == nil {
			err = l.Unlock()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("second Lock returned (%v) while the first holds the lock", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := first.Unlock(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("second Lock after release: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("second Lock still waiting 5s after release")
	}
	mu.Lock()
	defer mu.Unlock()
	want := s.LockFile() + ": pid " + strconv.Itoa(os.Getpid()) + ", `leash apply a.yaml` since 2026-11-21 12:00:00 UTC"
	if waitMsg != want {
		t.Errorf("Waiting saw %q, want %q", waitMsg, want)
	}
}

func TestLockTimeout(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	first, err := s.Lock(context.Background(), LockOptions{Holder: Holder{Command: "leash rollback"}})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Unlock()
	start := time.Now()
	_, err = s.Lock(context.Background(), LockOptions{Timeout: 350 * time.Millisecond})
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("Lock while held: err = %v, want *LockedError", err)
	}
	if took := time.Since(start); took < 350*time.Millisecond || took > 3*time.Second {
		t.Errorf("Lock gave up after %s, want about 350ms", took)
	}
	if le.Holder.Command != "leash rollback" || le.Holder.PID != os.Getpid() {
		t.Errorf("LockedError.Holder = %+v", le.Holder)
	}
	if !strings.Contains(err.Error(), "still holds "+s.LockFile()) {
		t.Errorf("error %q does not name the lock file", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Lock(ctx, LockOptions{Timeout: time.Minute}); !errors.Is(err, context.Canceled) {
		t.Errorf("Lock with a cancelled context: err = %v, want context.Canceled", err)
	}
}

// A lock held by another process excludes this one; the kernel releases it
// when that process dies, even by SIGKILL.
func TestLockOtherProcess(t *testing.T) {
	if os.Getenv("LEASH_STATE_LOCK_HELPER") != "" {
		return // the helper runs through TestLockHelper
	}
	s := &Store{Dir: t.TempDir()}
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHelper$")
	cmd.Env = append(os.Environ(), "LEASH_STATE_LOCK_HELPER="+s.Dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	buf := make([]byte, 6)
	if _, err := stdout.Read(buf); err != nil || string(buf) != "locked" {
		cmd.Process.Kill()
		t.Fatalf("helper said %q, %v; want locked", buf, err)
	}
	_, err = s.Lock(context.Background(), LockOptions{Timeout: 200 * time.Millisecond})
	var le *LockedError
	if !errors.As(err, &le) || le.Holder.PID != cmd.Process.Pid || le.Holder.Command != "helper" {
		t.Errorf("Lock held by helper pid %d: err = %v", cmd.Process.Pid, err)
	}
	cmd.Process.Kill()
	l, err := s.Lock(context.Background(), LockOptions{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("Lock after the holder was killed: %v", err)
	}
	l.Unlock()
}

// TestLockHelper takes the lock in a child process for TestLockOtherProcess
// and holds it until killed (at most 30s).
func TestLockHelper(t *testing.T) {
	dir := os.Getenv("LEASH_STATE_LOCK_HELPER")
	if dir == "" {
		t.Skip("helper process of TestLockOtherProcess")
	}
	s := &Store{Dir: dir}
	if _, err := s.Lock(context.Background(), LockOptions{Holder: Holder{Command: "helper"}}); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("locked")
	time.Sleep(30 * time.Second)
}

// TestLockRemovesTemp: temporary files a killed leash left are removed by
// the next one that takes the lock.
func TestLockRemovesTemp(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	if _, err := s.Save(&Generation{Ruleset: testRuleset()}); err != nil {
		t.Fatal(err)
	}
	left := []string{
		filepath.Join(s.Dir, "current1234.tmp"),
		filepath.Join(s.Dir, "pending.json99.tmp"),
		filepath.Join(s.Dir, "generations", "000001", "generation.json5.tmp"),
	}
	for _, p := range left {
		if err := os.WriteFile(p, []byte("half"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	l, err := s.Lock(context.Background(), LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	for _, p := range left {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s left behind: %v", p, err)
		}
	}
	if _, err := s.Current(); err != nil {
		t.Errorf("Current after the cleanup: %v", err)
	}
}

// TestHolderRecord: the holder record has a fixed size and reads back
// whole, also after a longer record of an earlier holder.
func TestHolderRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	if err := os.WriteFile(path, bytes.Repeat([]byte("x"), 3*holderSize), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := Holder{PID: 42, Command: "leash apply p.yaml", Since: time.Unix(1, 0).UTC()}
	if err := writeHolder(f, want); err != nil {
		t.Fatal(err)
	}
	if fi, _ := f.Stat(); fi.Size() != holderSize {
		t.Errorf("record size %d, want %d", fi.Size(), holderSize)
	}
	if got := readHolder(path); got != want {
		t.Errorf("readHolder = %+v, want %+v", got, want)
	}
}
