package cli

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/state"
)

// TestStateDirFollowsNamespace: without --state-dir, a leash in another
// network namespace than the host's keeps its records in that namespace's
// own directory, so they never land where the host's boot restores from;
// --state-dir wins, and a namespace leash cannot identify is the host's.
func TestStateDirFollowsNamespace(t *testing.T) {
	web1 := &state.Namespace{Name: "web1", Inode: 4026532999}
	unnamed := &state.Namespace{Inode: 4026533000}
	host := &state.Namespace{Init: true, Inode: 4026531840}
	tests := []struct {
		name     string
		ns       *state.Namespace
		err      error
		stateDir string // --state-dir, "" if not given
		wantDir  string
		wantNS   *state.Namespace
	}{
		{name: "host", ns: host, wantDir: state.DefaultDir, wantNS: host},
		{name: "named namespace", ns: web1, wantDir: state.DefaultDir + "/netns/web1", wantNS: web1},
		{name: "unnamed namespace", ns: unnamed, wantDir: state.DefaultDir + "/netns/inode-4026533000", wantNS: unnamed},
		{name: "--state-dir wins", ns: web1, stateDir: "/srv/leash", wantDir: "/srv/leash", wantNS: web1},
		{name: "unknown namespace", err: errors.New("permission denied"), wantDir: state.DefaultDir},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &globals{}
			cmd := &cobra.Command{Use: "x"}
			cmd.Flags().StringVar(&g.stateDir, "state-dir", state.DefaultDir, "")
			if tt.stateDir != "" {
				if err := cmd.Flags().Set("state-dir", tt.stateDir); err != nil {
					t.Fatal(err)
				}
			}
			d := Deps{Namespace: func(string) (*state.Namespace, error) { return tt.ns, tt.err }}
			g.resolveNamespace(cmd, d)
			if g.stateDir != tt.wantDir {
				t.Errorf("state directory = %s, want %s", g.stateDir, tt.wantDir)
			}
			if g.ns != tt.wantNS {
				t.Errorf("namespace = %v, want %v", g.ns, tt.wantNS)
			}
		})
	}
}

// TestReapplyFiles: the daemon recompiles the policy in force when the
// user database changes, and when resolv.conf does unless --resolver names
// the server (the table's DNS exemption lists resolv.conf's servers).
func TestReapplyFiles(t *testing.T) {
	tests := []struct {
		name string
		g    globals
		want []string
	}{
		{name: "system", g: globals{}, want: []string{"/etc/passwd", "/etc/group", "/etc/resolv.conf"}},
		{name: "files", g: globals{passwd: "p", group: "g"}, want: []string{"p", "g", "/etc/resolv.conf"}},
		{name: "--resolver", g: globals{resolver: "10.0.0.53:53"}, want: []string{"/etc/passwd", "/etc/group"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			if slices.Contains(want, "/etc/resolv.conf") { // and its target, on hosts where it is a symlink
				if target, err := filepath.EvalSymlinks("/etc/resolv.conf"); err == nil && target != "/etc/resolv.conf" {
					want = append(slices.Clone(want), target)
				}
			}
			got := reapplyFiles(&tt.g)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("reapplyFiles (-want +got):\n%s", diff)
			}
		})
	}
}
