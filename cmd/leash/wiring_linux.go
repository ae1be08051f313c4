package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/leash-dev/leash/internal/cgroups"
	"github.com/leash-dev/leash/internal/cli"
	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/daemon"
	"github.com/leash-dev/leash/internal/denylog"
	"github.com/leash-dev/leash/internal/hostcmd"
	"github.com/leash-dev/leash/internal/identity"
	"github.com/leash-dev/leash/internal/netns"
	"github.com/leash-dev/leash/internal/nft"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/resolve"
	"github.com/leash-dev/leash/internal/services"
	"github.com/leash-dev/leash/internal/sockowner"
	"github.com/leash-dev/leash/internal/state"
)

// loadEnv reads the host's users and groups (through getent, so LDAP and
// sssd users count), /etc/services, and sets up DNS resolution.
func loadEnv(ctx context.Context, opt cli.EnvOptions) (policy.Env, error) {
	dir, err := loadDirectory(ctx, opt)
	if err != nil {
		return policy.Env{}, err
	}
	svc := services.Load("/etc/services") // problems are warnings: Resolved.Warnings
	r := &resolve.DNS{NoHosts: opt.NoHostsFile, Deadline: opt.DNSTimeout}
	if opt.Resolver != "" {
		r.Servers = []string{opt.Resolver}
	}
	// leash's own lookups carry the DNS exemption's mark (compile.DNSMark).
	r.Dial = resolve.MarkedDial(compile.DNSMark, opt.NetNS)
	env := policy.Env{Directory: dir, Services: svc, Resolver: r}
	if fs, err := cgroups.Mount("/proc/self/mountinfo"); err == nil { // none: no socket is in a cgroup below the root
		env.Cgroups = fs
	}
	return env, nil
}

// loadDirectory reads users and groups from --passwd/--group files, or from
// the system database (getent, so LDAP and sssd users count).
func loadDirectory(ctx context.Context, opt cli.EnvOptions) (*identity.Directory, error) {
	switch {
	case opt.Passwd != "" && opt.Group != "":
		return identity.LoadFiles(opt.Passwd, opt.Group)
	case opt.Passwd != "" || opt.Group != "":
		return nil, fmt.Errorf("--passwd and --group go together")
	}
	return identity.LoadSystem(ctx, runCommand)
}

// runCommand runs getent by absolute path (hostcmd), never through $PATH.
func runCommand(ctx context.Context, name string, args ...string) ([]byte, error) {
	return hostcmd.Output(ctx, name, args...)
}

// openKernel connects to nftables in a namespace ("" = leash's own). The
// engine stops an apply with Ctrl-C through its ApplyContext; reverts and
// restore are never interrupted.
func openKernel(netns string) (cli.Kernel, error) { return nft.OpenNetNS(netns) }

// openOwningKernel is leash daemon's connection: one socket that owns the
// table for as long as the daemon runs.
func openOwningKernel(netns string) (daemon.OwningKernel, error) {
	return nft.OpenNetNS(netns, nft.Owning())
}

// watchTable reports the transactions that touch leash's table in a
// namespace (nft.Conn.Watch).
func watchTable(ctx context.Context, netns string, changes chan<- nft.TableChange) error {
	c, err := nft.OpenNetNS(netns)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Watch(ctx, changes)
}

// namespaceOf identifies the network namespace leash works in: the named
// one, or its own ("").
func namespaceOf(name string) (*state.Namespace, error) {
	id, err := netns.Identify(name)
	if err != nil {
		return nil, err
	}
	return &state.Namespace{Init: id.Init, Name: id.Name, Inode: id.Inode}, nil
}

func openDenyLog(netns string, group uint16, log *slog.Logger) (denylog.Source, error) {
	return denylog.OpenReader(denylog.ReaderConfig{NetNS: netns, Group: group, Now: time.Now, Log: log})
}

func openProcessLookup(netns string) (cli.ProcessLookup, error) {
	return denylog.OpenSocketOwners(netns)
}

// listSockets lists a namespace's sockets with the processes holding them
// (sock_diag and /proc), for leash conns.
func listSockets(ctx context.Context, netns string) ([]cli.OwnedSocket, error) {
	return sockowner.ListAll(ctx, netns)
}
