package main

import (
	"context"
	"net"
	"net/netip"
	"os/exec"

	"github.com/leash-dev/leash/internal/cli"
	"github.com/leash-dev/leash/internal/identity"
	"github.com/leash-dev/leash/internal/netns"
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
		r = nsResolver{ns: opt.NetNS, r: r}
	}
	return policy.Env{Directory: dir, Services: svc, Resolver: r}, nil
}

func runCommand(ctx context.Context, name string, args ...string) ([]byte, error) {
	return exec.CommandContext(ctx, name, args...).Output()
}

// nsResolver sends DNS queries from inside a network namespace.
type nsResolver struct {
	ns string
	r  resolve.Resolver
}

func (n nsResolver) LookupHost(ctx context.Context, host string) (addrs []netip.Addr, err error) {
	ns, err := netns.Open(n.ns)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	err = ns.Do(func() error {
		addrs, err = n.r.LookupHost(ctx, host)
		return err
	})
	return addrs, err
}

// kernel is nftables in one namespace; it keeps the namespace handle open
// while in use.
type kernel struct {
	*nft.Conn
	ns *netns.NS
}

func (k kernel) Close() error {
	if k.ns != nil {
		return k.ns.Close()
	}
	return nil
}

func openKernel(name string) (cli.Kernel, error) {
	if name == "" {
		c, err := nft.Open()
		return kernel{Conn: c}, err
	}
	ns, err := netns.Open(name)
	if err != nil {
		return nil, err
	}
	c, err := nft.Open(nft.WithNetNS(ns.Fd()))
	if err != nil {
		ns.Close()
		return nil, err
	}
	return kernel{Conn: c, ns: ns}, nil
}

// localAddrs lists the addresses assigned in the namespace.
func localAddrs(name string) ([]netip.Addr, error) {
	var out []netip.Addr
	list := func() error {
		addrs, err := net.InterfaceAddrs()
		if err != nil {
			return err
		}
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				out = append(out, p.Addr().Unmap())
			}
		}
		return nil
	}
	if name == "" {
		return out, list()
	}
	ns, err := netns.Open(name)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	return out, ns.Do(list)
}
