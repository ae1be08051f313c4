package procinfo

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseSocketLink(t *testing.T) {
	tests := []struct {
		target string
		inode  uint64
		ok     bool
	}{
		{target: "socket:[4026532]", inode: 4026532, ok: true},
		{target: "socket:[0]", inode: 0, ok: true},
		{target: "socket:[18446744073709551615]", inode: 18446744073709551615, ok: true},
		{target: "pipe:[123]"},
		{target: "anon_inode:[eventpoll]"},
		{target: "/dev/null"},
		{target: "socket:[]"},
		{target: "socket:[12"},
		{target: "socket:[-1]"},
		{target: "socket:[1x]"},
	}
	for _, tt := range tests {
		inode, ok := ParseSocketLink(tt.target)
		if inode != tt.inode || ok != tt.ok {
			t.Errorf("ParseSocketLink(%q) = %d, %v; want %d, %v", tt.target, inode, ok, tt.inode, tt.ok)
		}
	}
}

func TestParseStatus(t *testing.T) {
	tests := []struct {
		file    string
		want    Creds
		wantErr bool
	}{
		{file: "status/root", want: Creds{}},
		{file: "status/setuid", want: Creds{UID: 1000, GID: 1000, EGID: 1000, SGID: 1000, FSGID: 1000}},
		{file: "status/short-uid", wantErr: true},
		{file: "status/no-ids", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := ParseStatus(fixture(t, tt.file))
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseStatus error = %v, want error %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseStatus (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseCmdline(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{file: "cmdline/curl", want: []string{"/usr/bin/curl", "-sS", "https://example.org/a b"}},
		{file: "cmdline/rewritten", want: []string{"nginx: worker process"}},
		{file: "cmdline/kthread", want: nil},
		{file: "cmdline/one", want: []string{"sleep"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, ParseCmdline(fixture(t, tt.file))); diff != "" {
			t.Errorf("ParseCmdline(%s) (-want +got):\n%s", tt.file, diff)
		}
	}
}

func TestParseCgroupAndUnit(t *testing.T) {
	tests := []struct {
		file     string
		cgroup   string
		unit     string
		userUnit string
	}{
		{file: "cgroup/v2-service", cgroup: "/system.slice/nginx.service", unit: "nginx.service"},
		{file: "cgroup/v2-session", cgroup: "/user.slice/user-1000.slice/session-3.scope", unit: "session-3.scope"},
		{
			file:   "cgroup/v2-user-manager",
			cgroup: "/user.slice/user-1000.slice/user@1000.service/app.slice/app-org.gnome.Terminal.slice/vte-spawn-5b1e.scope",
			unit:   "user@1000.service", userUnit: "vte-spawn-5b1e.scope",
		},
		{file: "cgroup/v2-delegated", cgroup: "/system.slice/docker.service/docker/0123abcd", unit: "docker.service"},
		{file: "cgroup/v2-root", cgroup: "/"},
		{file: "cgroup/hybrid", cgroup: "/system.slice/cron.service", unit: "cron.service"},
		{file: "cgroup/hybrid-root", cgroup: "/"},
		{file: "cgroup/v1-only", cgroup: "/user.slice/user-1000.slice/session-7.scope", unit: "session-7.scope"},
		{file: "cgroup/v2-container", cgroup: "/lxc.payload.web/system.slice/nginx.service"},
		{file: "cgroup/empty", cgroup: ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			cg := ParseCgroup(fixture(t, tt.file))
			unit, userUnit := UnitOf(cg)
			got := []string{cg, unit, userUnit}
			if diff := cmp.Diff([]string{tt.cgroup, tt.unit, tt.userUnit}, got); diff != "" {
				t.Errorf("cgroup, unit, user unit (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUnitOf(t *testing.T) {
	tests := []struct {
		path     string
		unit     string
		userUnit string
	}{
		{path: "/init.scope", unit: "init.scope"},
		{path: "/system.slice/system-getty.slice/getty@tty1.service", unit: "getty@tty1.service"},
		{path: "/user.slice/user-1000.slice/user@1000.service", unit: "user@1000.service"},
		{path: "/user.slice/user-1000.slice/user@1000.service/init.scope", unit: "user@1000.service", userUnit: "init.scope"},
		{path: "/user.slice/user-1000.slice/user@1000.service/app.slice/syncthing.service/sub", unit: "user@1000.service", userUnit: "syncthing.service"},
		{path: "/system.slice/nginx.service/sub.scope", unit: "nginx.service"},
		{path: "/machine.slice", unit: ""},
		{path: "", unit: ""},
		{path: "/docker/0123", unit: ""},
	}
	for _, tt := range tests {
		unit, userUnit := UnitOf(tt.path)
		if unit != tt.unit || userUnit != tt.userUnit {
			t.Errorf("UnitOf(%q) = %q, %q; want %q, %q", tt.path, unit, userUnit, tt.unit, tt.userUnit)
		}
	}
}
