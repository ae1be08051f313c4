package service

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/leash-dev/leash/internal/kerneltest"
)

func TestUnits(t *testing.T) {
	tests := []struct {
		name    string
		opt     Options
		want    map[string][]string // unit -> lines it must contain
		wantErr bool
	}{
		{name: "default state dir", opt: Options{BinDir: "/opt/leash/bin", StateDir: "/var/lib/leash"}, want: map[string][]string{
			"leash.service": {"ExecStart=/opt/leash/bin/leash restore", "ExecReload=/opt/leash/bin/leash restore",
				"Type=oneshot", "RemainAfterExit=yes", "DefaultDependencies=no", "After=local-fs.target",
				"RequiresMountsFor=/var/lib/leash", "Before=network-pre.target", "Wants=network-pre.target",
				"Conflicts=shutdown.target", "Before=shutdown.target", "WantedBy=multi-user.target"},
			"leash-reapply.service": {"ExecStart=/opt/leash/bin/leash reapply", "ConditionPathExists=/var/lib/leash/current"},
			"leash-reapply.path":    {"PathChanged=/etc/passwd", "PathChanged=/etc/group", "Unit=leash-reapply.service"},
			"leash-reapply.timer":   {"OnUnitActiveSec=15min", "Unit=leash-reapply.service"},
			"leash-log.service":     {"ExecStart=/opt/leash/bin/leash log collect", "Restart=on-failure", "ReadWritePaths=-/var/lib/leash"},
			"leash-daemon.service":  {"Type=notify", "ExecStart=/opt/leash/bin/leash daemon", "ExecReload=/bin/kill -HUP $MAINPID", "WatchdogSec=30s", "ReadWritePaths=-/var/lib/leash", "After=leash.service nftables.service network-online.target nss-user-lookup.target", "ConditionPathExists=/var/lib/leash/current", "RuntimeDirectory=leash", "WantedBy=multi-user.target"},
		}},
		{name: "other state dir", opt: Options{BinDir: "/usr/sbin", StateDir: "/srv/leash/"}, want: map[string][]string{
			"leash.service":         {"ExecStart=/usr/sbin/leash --state-dir /srv/leash restore", "RequiresMountsFor=/srv/leash"},
			"leash-reapply.service": {"ExecStart=/usr/sbin/leash --state-dir /srv/leash reapply", "ConditionPathExists=/srv/leash/current"},
			"leash-reapply.path":    {},
			"leash-reapply.timer":   {},
			"leash-log.service":     {"ExecStart=/usr/sbin/leash --state-dir /srv/leash log collect", "ReadWritePaths=-/srv/leash"},
			"leash-daemon.service":  {"ExecStart=/usr/sbin/leash --state-dir /srv/leash daemon", "ReadWritePaths=-/srv/leash", "ConditionPathExists=/srv/leash/current"},
		}},
		{name: "relative bindir", opt: Options{BinDir: "bin", StateDir: "/var/lib/leash"}, wantErr: true},
		{name: "space in state dir", opt: Options{BinDir: "/usr/sbin", StateDir: "/var/lib/my leash"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			units, err := Units(tt.opt)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Units: err = %v, wantErr %t", err, tt.wantErr)
			}
			got := map[string]string{}
			for _, u := range units {
				got[u.Name] = string(u.Content)
			}
			var names, wantNames []string
			for n := range got {
				names = append(names, n)
			}
			for n := range tt.want {
				wantNames = append(wantNames, n)
			}
			if diff := cmp.Diff(wantNames, names, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
				t.Errorf("unit names (-want +got):\n%s", diff)
			}
			for n, lines := range tt.want {
				for _, l := range lines {
					if !hasLine(got[n], l) {
						t.Errorf("%s lacks line %q:\n%s", n, l, got[n])
					}
				}
				if strings.Contains(got[n], "/usr/local/sbin") && tt.opt.BinDir != "/usr/local/sbin" {
					t.Errorf("%s still names /usr/local/sbin", n)
				}
			}
		})
	}
}

func hasLine(text, line string) bool {
	for _, l := range strings.Split(text, "\n") {
		if l == line {
			return true
		}
	}
	return false
}

// Install writes every unit under ROOT/etc/systemd/system, readable by all;
// systemd-analyze (when the host has it) accepts them without a warning.
func TestInstall(t *testing.T) {
	root := t.TempDir()
	bin := filepath.Join(root, "usr/sbin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "leash"), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	units, err := Units(Options{BinDir: bin, StateDir: "/var/lib/leash"})
	if err != nil {
		t.Fatal(err)
	}
	paths, err := Install(root, units)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, UnitDir)
	var want []string
	for _, n := range []string{"leash-daemon.service", "leash-log.service", "leash-reapply.path", "leash-reapply.service", "leash-reapply.timer", "leash.service"} {
		want = append(want, filepath.Join(dir, n))
	}
	if diff := cmp.Diff(want, paths); diff != "" {
		t.Errorf("Install paths (-want +got):\n%s", diff)
	}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o644 {
			t.Errorf("%s has mode %v, want 0644", p, fi.Mode().Perm())
		}
	}
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		kerneltest.Unavailable(t, "systemd-analyze not installed (Debian package systemd; scripts/deps.sh installs it): units not verified")
	}
	out, err := exec.Command(sa, append([]string{"verify"}, paths...)...).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// install-service enables the boot restore and the daemon, both shipped.
func TestEnabled(t *testing.T) {
	units, err := Units(Options{BinDir: "/usr/sbin", StateDir: "/var/lib/leash"})
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, u := range units {
		have[u.Name] = true
	}
	if diff := cmp.Diff([]string{"leash.service", "leash-daemon.service"}, Enabled()); diff != "" {
		t.Errorf("Enabled (-want +got):\n%s", diff)
	}
	for _, n := range Enabled() {
		if !have[n] {
			t.Errorf("Enabled names %s, which is not shipped", n)
		}
	}
}
