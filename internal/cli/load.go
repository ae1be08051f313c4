package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/leash-dev/leash/internal/engine"
	"github.com/leash-dev/leash/internal/hostrefresh"
	"github.com/leash-dev/leash/internal/safefile"
	"github.com/leash-dev/leash/internal/termtext"
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

// trustedInputs refuses to apply a policy file, or --passwd or --group
// files, that someone other than root and the user running leash could
// change (safefile.CheckTrustedFile): exit 2, with the chmod or chown that
// fixes it. Other errors (no such file) are left to the readers.
func trustedInputs(g *globals, policyPath string) error {
	for _, f := range []struct{ what, path string }{{"policy file", policyPath}, {"--passwd file", g.passwd}, {"--group file", g.group}} {
		var fe *safefile.Error
		if err := safefile.CheckTrustedFile(f.path); f.path != "" && errors.As(err, &fe) {
			return &exitError{code: 2, err: fmt.Errorf("refusing to apply with a %s another user could change: %w", f.what, err)}
		}
	}
	return nil
}

// compileSource validates, resolves and compiles src, the text of path
// (a file or a stored generation's policy.yaml), like loadPolicy.
// Hostnames start from the daemon's refresher record when it is fresh
// (hostrefresh.WithRecord: DNS's answer plus the last good and kept
// addresses).
func compileSource(ctx context.Context, d Deps, g *globals, path string, src []byte) (*engine.Compiled, error) {
	env, err := d.Env(ctx, g.envOptions())
	if err != nil {
		return nil, fmt.Errorf("load users, groups and services: %w", err)
	}
	if rec, err := g.store().Hosts(); err == nil && rec != nil && d.Clock != nil { // unreadable: DNS alone
		env.Resolver = hostrefresh.WithRecord(env.Resolver, rec, d.Clock.Now())
	}
	env.Clock = windowClock(d, g)
	c, err := engine.Compile(ctx, env, path, src)
	if err != nil {
		return nil, err
	}
	for _, w := range c.Resolved.Warnings { // e.g. a malformed /etc/services line
		fmt.Fprintf(d.Stderr, "leash: warning: %s\n", termtext.Escape(fmt.Sprint(w)))
	}
	return c, nil
}
