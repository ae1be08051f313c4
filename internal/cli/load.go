package cli

import (
	"context"
	"fmt"

	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
)

// compiled is a policy file taken all the way to a ruleset.
type compiled struct {
	path     string
	src      []byte
	resolved *policy.Resolved
	rs       *ruleset.Ruleset
}

// loadPolicy reads, validates, resolves and compiles path. Errors in the
// file come back as a policy.ErrorList (exit 2); the kernel is not touched.
func loadPolicy(ctx context.Context, d Deps, g *globals, path string) (*compiled, error) {
	src, err := d.ReadFile(path)
	if err != nil {
		return nil, &exitError{code: 2, err: fmt.Errorf("read policy: %w", err)}
	}
	return compileSource(ctx, d, g, path, src)
}

// compileSource validates, resolves and compiles src, the text of path
// (a file or a stored generation's policy.yaml), like loadPolicy.
func compileSource(ctx context.Context, d Deps, g *globals, path string, src []byte) (*compiled, error) {
	env, err := d.Env(ctx, g.envOptions())
	if err != nil {
		return nil, fmt.Errorf("load users, groups and services: %w", err)
	}
	res, err := policy.Load(ctx, path, src, env)
	if err != nil {
		return nil, err
	}
	rs, err := compile.CompileContext(ctx, res)
	if err != nil {
		return nil, err
	}
	if err := ruleset.ValidateContext(ctx, rs); err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, fmt.Errorf("internal error: compiled ruleset is inconsistent (please report): %w", err)
	}
	return &compiled{path: path, src: src, resolved: res, rs: rs}, nil
}

// openKernel connects to the kernel in the namespace chosen by --netns.
func openKernel(d Deps, g *globals) (Kernel, error) {
	k, err := d.OpenKernel(g.netns)
	if err != nil {
		return nil, fmt.Errorf("connect to nftables: %w (leash needs root or CAP_NET_ADMIN)", err)
	}
	return k, nil
}
