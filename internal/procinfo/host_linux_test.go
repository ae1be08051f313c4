package procinfo

import (
	"context"
	"os"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// TestHost reads this process from the real /proc: a socket it holds (a
// socketpair, no network involved) is indexed under its pid.
func TestHost(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	var st unix.Stat_t
	if err := unix.Fstat(fds[0], &st); err != nil {
		t.Fatal(err)
	}
	r := Host()
	holders, err := r.Holders(context.Background(), st.Ino)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(holders, os.Getpid()) {
		t.Errorf("Holders(%d) = %v, want it to contain this process %d", st.Ino, holders, os.Getpid())
	}
	p, err := r.Process(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	if p.PID != os.Getpid() || p.UID != uint32(os.Geteuid()) || p.Exe != exe || len(p.Cmdline) == 0 || p.Comm == "" {
		t.Errorf("Process(self) = %+v; want pid %d, uid %d, exe %s", p, os.Getpid(), os.Geteuid(), exe)
	}
	if _, err := r.Process(1 << 23); err == nil {
		t.Error("Process(2^23) succeeded; pids never go that high")
	}
}
