package cli

import (
	"context"
	"fmt"

	"github.com/leash-dev/leash/internal/engine"
)

// loadPolicy reads, validates, resolves and compiles path. Errors in the
// file come back as a policy.ErrorList (exit 2); the kernel is not touched.
func loadPolicy(ctx context.Context, d Deps, g *globals, path string) (*engine.Compiled, error) {
	src, err := d.ReadFile(path)
	if err != nil {
		return nil, &exitError{code: 2, err: fmt.Errorf("read policy: %w", err)}
	}
	return compileSource(ctx, d, g, path, src)
}

// compileSource validates, resolves and compiles src, the text of path
// (a file or a stored generation's policy.yaml), like loadPolicy.
func compileSource(ctx context.Context, d Deps, g *globals, path string, src []byte) (*engine.Compiled, error) {
	env, err := d.Env(ctx, g.envOptions())
	if err != nil {
		return nil, fmt.Errorf("load users, groups and services: %w", err)
	}
	c, err := engine.Compile(ctx, env, path, src)
	if err != nil {
		return nil, err
	}
	for _, w := range c.Resolved.Warnings { // e.g. a malformed /etc/services line
		fmt.Fprintf(d.Stderr, "leash: warning: %s\n", w)
	}
	return c, nil
}
