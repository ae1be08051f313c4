// Command leash compiles a declarative egress policy into one nftables table
// and makes the kernel enforce it. This file only wires real dependencies into
// internal/cli; see that package for the commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/leash-dev/leash/internal/cgroups"
	"github.com/leash-dev/leash/internal/cli"
	"github.com/leash-dev/leash/internal/clock"
	"github.com/leash-dev/leash/internal/detach"
	"github.com/leash-dev/leash/internal/hostrefresh"
	"github.com/leash-dev/leash/internal/netns"
	"github.com/leash-dev/leash/internal/safefile"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	root := cli.New(cli.Deps{
		ProbeCommand: []string{exe, "sandbox-probe"},
		Stdout:       os.Stdout,
		Stderr:       os.Stderr,
		Env:          loadEnv,
		OpenKernel:   openKernel,

		OpenOwningKernel: openOwningKernel,
		WatchTable:       watchTable,
		LocalAddrs:       netns.LocalAddrs,
		RouteOif:         netns.RouteOif,
		Sockets:          listSockets,
		ReadFile:         safefile.Read,
		Now:              time.Now,
		Clock:            clock.Real{},
		Spawn:            spawner(exe),
		Running:          detach.Running,
		Namespace:        namespaceOf,
		Getenv:           os.Getenv,
		NewWatcher:       newWatcher,
		Cgroups:          func() (*cgroups.FS, error) { return cgroups.Mount("/proc/self/mountinfo") },
		Notify:           sdNotify,
		Watchdog:         watchdogInterval,
		Executable:       exe,
		Systemctl:        systemctl,

		OpenDenyLog:       openDenyLog,
		OpenProcessLookup: openProcessLookup,
		LiveConns:         func(ns string) hostrefresh.Conns { return hostrefresh.SocketConns{NetNS: ns} },
	})
	err = root.ExecuteContext(ctx)
	cli.Report(os.Stderr, err)
	os.Exit(cli.ExitCode(err))
}
