package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDetachedArgv(t *testing.T) {
	args := []string{"--state-dir", "/var/lib/leash", "revert-pending", "--generation", "2"}
	for _, tc := range []struct {
		name string
		run  string
		want []string
	}{
		{name: "no systemd", want: append([]string{"/usr/sbin/leash"}, args...)},
		{name: "systemd", run: "/usr/bin/systemd-run", want: append([]string{"/usr/bin/systemd-run", "--scope", "--quiet", "--collect",
			"--description=leash automatic revert", "--", "/usr/sbin/leash"}, args...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, detachedArgv("/usr/sbin/leash", args, tc.run)); diff != "" {
				t.Errorf("argv (-want +got):\n%s", diff)
			}
		})
	}
}
