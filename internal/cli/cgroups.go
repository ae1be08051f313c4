package cli

import (
	"github.com/leash-dev/leash/internal/cgroups"
	"github.com/leash-dev/leash/internal/daemon"
)

// daemonCgroups is the cgroup2 tree and its watch for leash daemon; nil
// when the host has no cgroup2 mount (no socket is then below the root,
// and units and cgroups subjects match nothing).
func daemonCgroups(d Deps) (*daemon.Cgroups, error) {
	if d.Cgroups == nil {
		return nil, nil
	}
	fs, err := d.Cgroups()
	if err != nil {
		return nil, nil
	}
	w, err := cgroups.NewWatch()
	if err != nil {
		return nil, err
	}
	return &daemon.Cgroups{Tree: fs, Root: fs.Root, Watch: w}, nil
}
