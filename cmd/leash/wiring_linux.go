package main

import (
	"context"
	"os/exec"

	"github.com/leash-dev/leash/internal/cli"
	"github.com/leash-dev/leash/internal/identity"
	"github.com/leash-dev/leash/internal/nft"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/resolve"
	"github.com/leash-dev/leash/internal/services"
)

// loadEnv reads the host's users and groups (through getent, so LDAP and
// sssd users count), /etc/services, and sets up DNS resolution.
func loadEnv(ctx context.Context, opt cli.EnvOptions) (policy.Env, error) {
	dir, err := identity.LoadSystem(ctx, runCommand)
	if err != nil {
		return policy.Env{}, err
	}
	svc, err := services.Load("/etc/services")
	if err != nil {
		return policy.Env{}, err
	}
	var r resolve.Resolver = &resolve.DNS{}
	if opt.Resolver != "" {
		r = &resolve.DNS{Servers: []string{opt.Resolver}}
	}
	if opt.NetNS != "" {
		r = resolve.InNetNS(opt.NetNS, r)
	}
	return policy.Env{Directory: dir, Services: svc, Resolver: r}, nil
}

func runCommand(ctx context.Context, name string, args ...string) ([]byte, error) {
	return exec.CommandContext(ctx, name, args...).Output()
}

func openKernel(netns string) (cli.Kernel, error) { return nft.OpenNetNS(netns) }
