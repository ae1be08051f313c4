package procinfo

import (
	"context"
	"io/fs"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// fakeProc is a procfs tree: pid 1 (systemd), 42 and 100 sharing socket 7,
// 43 whose descriptors cannot be read (exited mid-scan), 44 without status,
// and entries that are not processes.
func fakeProc() fstest.MapFS {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	link := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s), Mode: fs.ModeSymlink} }
	status := func(uid, gid string) *fstest.MapFile {
		return file("Name:\tx\nUid:\t" + uid + "\nGid:\t" + gid + "\n")
	}
	return fstest.MapFS{
		"1/status":    status("0\t0\t0\t0", "0\t0\t0\t0"),
		"1/comm":      file("systemd\n"),
		"1/exe":       link("/usr/lib/systemd/systemd"),
		"1/cmdline":   file("/sbin/init\x00"),
		"1/cgroup":    file("0::/init.scope\n"),
		"1/fd/0":      link("/dev/null"),
		"1/fd/7":      link("socket:[900]"),
		"42/status":   status("1000\t1000\t1000\t1000", "1000\t1000\t1000\t1000"),
		"42/comm":     file("curl\n"),
		"42/exe":      link("/usr/bin/curl"),
		"42/cmdline":  file("curl\x00https://example.org\x00"),
		"42/cgroup":   file("0::/user.slice/user-1000.slice/session-3.scope\n"),
		"42/fd/3":     link("socket:[7]"),
		"42/fd/4":     link("socket:[8]"),
		"42/fd/5":     link("pipe:[9]"),
		"42/fd/6":     link("socket:[7]"), // dup'ed
		"43/status":   status("1001\t1001\t1001\t1001", "1001\t1001\t1001\t1001"),
		"44/fd/3":     link("socket:[11]"),
		"100/status":  status("1000\t1000\t1000\t1000", "1000\t1000\t1000\t1000"),
		"100/comm":    file("curl\n"),
		"100/fd/3":    link("socket:[7]"),
		"self":        link("42"),
		"sys/net/foo": file("1\n"),
	}
}

func TestSocketIndex(t *testing.T) {
	r := &Reader{FS: fakeProc()}
	ix, err := r.SocketIndex(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[uint64][]int{}
	for _, inode := range []uint64{7, 8, 9, 11, 900, 12345} {
		if h := ix.Holders(inode); h != nil {
			got[inode] = h
		}
	}
	want := map[uint64][]int{7: {42, 100}, 8: {42}, 11: {44}, 900: {1}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("holders (-want +got):\n%s", diff)
	}
	if ix.Skipped != 1 || ix.Truncated || ix.Len() != 4 {
		t.Errorf("Skipped, Truncated, Len = %d, %v, %d; want 1 (pid 43), false, 4", ix.Skipped, ix.Truncated, ix.Len())
	}
}

func TestHolders(t *testing.T) {
	tests := []struct {
		name   string
		reader Reader
		inode  uint64
		want   []int
	}{
		{name: "shared", reader: Reader{FS: fakeProc()}, inode: 7, want: []int{42, 100}},
		{name: "absent", reader: Reader{FS: fakeProc()}, inode: 12345, want: nil},
		{name: "process limit", reader: Reader{FS: fakeProc(), MaxProcesses: 3}, inode: 7, want: []int{42}},
		{name: "fd limit", reader: Reader{FS: fakeProc(), MaxFDs: 1}, inode: 8, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.reader.Holders(context.Background(), tt.inode)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Holders(%d) (-want +got):\n%s", tt.inode, diff)
			}
		})
	}
}

func TestFirstHolder(t *testing.T) {
	tests := []struct {
		name   string
		reader Reader
		inode  uint64
		pid    int
		ok     bool
	}{
		{name: "newest of two holders", reader: Reader{FS: fakeProc()}, inode: 7, pid: 100, ok: true},
		{name: "only holder", reader: Reader{FS: fakeProc()}, inode: 900, pid: 1, ok: true},
		{name: "absent", reader: Reader{FS: fakeProc()}, inode: 12345},
		{name: "process limit", reader: Reader{FS: fakeProc(), MaxProcesses: 2}, inode: 900},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pid, ok, err := tt.reader.FirstHolder(context.Background(), tt.inode)
			if err != nil {
				t.Fatal(err)
			}
			if pid != tt.pid || ok != tt.ok {
				t.Errorf("FirstHolder(%d) = %d, %v; want %d, %v", tt.inode, pid, ok, tt.pid, tt.ok)
			}
		})
	}
}

func TestHoldersCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := &Reader{FS: fakeProc()}
	if _, err := r.Holders(ctx, 7); err == nil {
		t.Error("Holders with a canceled context succeeded")
	}
}

func TestProcess(t *testing.T) {
	r := &Reader{FS: fakeProc()}
	tests := []struct {
		pid     int
		want    Process
		wantErr bool
	}{
		{pid: 42, want: Process{
			PID: 42, UID: 1000, GID: 1000, FSUID: 1000, FSGID: 1000, Comm: "curl", Exe: "/usr/bin/curl",
			Cmdline: []string{"curl", "https://example.org"}, Cgroup: "/user.slice/user-1000.slice/session-3.scope", Unit: "session-3.scope",
		}},
		{pid: 1, want: Process{PID: 1, Comm: "systemd", Exe: "/usr/lib/systemd/systemd", Cmdline: []string{"/sbin/init"}, Cgroup: "/init.scope", Unit: "init.scope"}},
		{pid: 100, want: Process{PID: 100, UID: 1000, GID: 1000, FSUID: 1000, FSGID: 1000, Comm: "curl"}},
		{pid: 44, wantErr: true},
		{pid: 4242, wantErr: true},
	}
	for _, tt := range tests {
		got, err := r.Process(tt.pid)
		if (err != nil) != tt.wantErr {
			t.Errorf("Process(%d) error = %v, want error %v", tt.pid, err, tt.wantErr)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Process(%d) (-want +got):\n%s", tt.pid, diff)
		}
	}
}
