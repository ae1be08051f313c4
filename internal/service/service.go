// Package service installs leash's systemd units (dist/systemd): it fills
// in the installed binary and state directory and writes the files.
package service

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/rogpeppe/go-internal/renameio"

	"github.com/leash-dev/leash/dist/systemd"
)

// The paths the unit files are written with.
const (
	defaultBinary   = "/usr/local/sbin/leash"
	defaultStateDir = "/var/lib/leash"
)

// UnitDir is where units are installed, relative to the root.
const UnitDir = "etc/systemd/system"

// Enabled lists the units install-service enables: the boot-time restore
// (early, before the network, without DNS) and the daemon after it (which
// needs the network and the user database, and does what
// leash-reapply.path and leash-log.service would). Those two and
// leash-reapply.timer stay optional, for hosts that run leash without the
// daemon.
func Enabled() []string { return []string{"leash.service", "leash-daemon.service"} }

// Unit is one unit file.
type Unit struct {
	Name    string
	Content []byte
}

// Options say where leash is installed.
type Options struct {
	// BinDir holds the leash binary (absolute).
	BinDir string
	// StateDir is leash's state directory (absolute); when it is not
	// /var/lib/leash, ExecStart lines pass --state-dir.
	StateDir string
}

// Units renders every unit file for o, sorted by name.
func Units(o Options) ([]Unit, error) {
	for _, p := range []string{o.BinDir, o.StateDir} {
		if !filepath.IsAbs(p) || strings.ContainsAny(p, " \t\n\"'\\%$;") {
			return nil, fmt.Errorf("service: %q: unit files need an absolute path without spaces, quotes or specifiers", p)
		}
	}
	binary := filepath.Join(o.BinDir, "leash")
	stateDir := filepath.Clean(o.StateDir)
	if stateDir != defaultStateDir {
		binary += " --state-dir " + stateDir
	}
	names, err := fs.Glob(systemd.Units, "leash*")
	if err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	sort.Strings(names)
	units := make([]Unit, 0, len(names))
	for _, n := range names {
		b, err := fs.ReadFile(systemd.Units, n)
		if err != nil {
			return nil, fmt.Errorf("service: %w", err)
		}
		s := strings.ReplaceAll(string(b), defaultStateDir, stateDir)
		s = strings.ReplaceAll(s, defaultBinary, binary)
		units = append(units, Unit{Name: n, Content: []byte(s)})
	}
	return units, nil
}

// Install writes units into root/etc/systemd/system (mode 0644, each file
// replaced atomically) and returns the paths written.
func Install(root string, units []Unit) ([]string, error) {
	dir := filepath.Join(root, UnitDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	var paths []string
	for _, u := range units {
		path := filepath.Join(dir, u.Name)
		if err := renameio.WriteFile(path, u.Content); err != nil {
			return paths, fmt.Errorf("service: write %s: %w", path, err)
		}
		if err := os.Chmod(path, 0o644); err != nil {
			return paths, fmt.Errorf("service: %w", err)
		}
		paths = append(paths, path)
	}
	return paths, nil
}
