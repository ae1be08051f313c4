package cli

import (
	"errors"
	"testing"

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
