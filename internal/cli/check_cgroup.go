package cli

import (
	"fmt"

	"github.com/leash-dev/leash/internal/cgroups"
	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/eval"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
)

// checkCgroup is what check --unit U or --cgroup P judges: the cgroup path
// (a unit's by systemd's convention), the ids of it and its ancestors (as
// the cgroup2 tree has them now, made up where a directory does not exist)
// and rs with those ids classified as leash daemon classifies them. Without
// either flag it returns rs unchanged and no path.
func checkCgroup(d Deps, g *globals, f *checkFlags, rs *ruleset.Ruleset) (string, []uint64, *ruleset.Ruleset, error) {
	path := f.cgroup
	switch {
	case f.unit != "" && f.cgroup != "":
		return "", nil, nil, usage("give at most one of --unit and --cgroup")
	case f.unit != "":
		paths, err := cgroups.UnitPaths(f.unit)
		if err != nil {
			return "", nil, nil, usage("--unit: %v", err)
		}
		path = paths[0]
	case f.cgroup != "":
		p, ok := cgroups.CleanPath(f.cgroup)
		if !ok {
			return "", nil, nil, usage("--cgroup %q: give a path below the cgroup2 mount, such as system.slice/nginx.service", f.cgroup)
		}
		path = p
	default:
		return "", nil, rs, nil
	}
	file, src, err := checkSource(d, g, f.policy)
	if err != nil {
		return "", nil, nil, err
	}
	plan, err := policy.CgroupPlanOf(file, src)
	if err != nil {
		return "", nil, nil, err
	}
	snap := cgroups.Snapshot{}
	if d.Cgroups != nil {
		if fs, err := d.Cgroups(); err == nil {
			if s, err := cgroups.Scan(fs, plan); err == nil {
				snap = s
			}
		}
	}
	ids, add := plan.Hypothetical(path, snap, compile.ChainName)
	return path, ids, withCgroups(rs, add), nil
}

// checkSource is the policy text check judges: --policy FILE, or the
// generation last applied.
func checkSource(d Deps, g *globals, path string) (string, []byte, error) {
	if path != "" {
		src, err := d.ReadFile(path)
		if err != nil {
			return "", nil, &exitError{code: 2, err: fmt.Errorf("read policy: %w", err)}
		}
		return path, src, nil
	}
	gen, _, err := engineFor(nil, d, g, nil).View()
	if err != nil {
		return "", nil, fmt.Errorf("%w; give the policy with --policy FILE", err)
	}
	return gen.PolicyFile, gen.Policy, nil
}

// withCgroups is rs with the elements of add put in its live cgroup sets
// and maps too.
func withCgroups(rs *ruleset.Ruleset, add map[string][]ruleset.Element) *ruleset.Ruleset {
	if len(add) == 0 {
		return rs
	}
	out := *rs
	out.Sets = make([]*ruleset.Set, len(rs.Sets))
	for i, s := range rs.Sets {
		out.Sets[i] = s
		if more := add[s.Name]; len(more) > 0 && s.Kind == ruleset.KindCgroup && s.Live != nil {
			c := *s
			c.SetElements(append(s.Elements(), more...))
			out.Sets[i] = &c
		}
	}
	return &out
}

// precedence explains a program's verdict res against its user's: when the
// cgroup's policy decided, what the same connection of the same user
// outside any governed cgroup would get, and from which policy.
func precedence(rs *ruleset.Ruleset, pkt eval.Packet, res eval.Result) (string, error) {
	if res.Rule == nil || res.Rule.Origin.Policy == "" {
		return "", nil
	}
	pkt.Cgroup = nil
	alone, err := eval.Evaluate(rs, pkt)
	if err != nil {
		return "", err
	}
	other := "no policy (allowed)"
	if alone.Rule != nil && alone.Rule.Origin.Policy != "" {
		other = fmt.Sprintf("policy %s (%s by %s)", alone.Rule.Origin.Policy, verdictWord(alone.Verdict), alone.Rule.Origin.ID)
	}
	if alone.Rule != nil && alone.Rule.Origin.Policy == res.Rule.Origin.Policy {
		return "", nil
	}
	return fmt.Sprintf("policy %s governs this cgroup and replaces its user's %s: programs come before users", res.Rule.Origin.Policy, other), nil
}
