package cli

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/eval"
	"github.com/leash-dev/leash/internal/identity"
	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/sockowner"
	"github.com/leash-dev/leash/internal/state"
)

// OwnedSocket is a socket with the processes holding it (Deps.Sockets).
type OwnedSocket = sockowner.Owned

type connsFlags struct {
	policy string
	user   string
}

func connsCmd(d Deps, g *globals) *cobra.Command {
	f := &connsFlags{}
	cmd := &cobra.Command{
		Use:   "conns [--user U] [--policy FILE]",
		Short: "List the outgoing connections open now, by user and process, with the policy's verdict",
		Long: `List the connections this host (or --netns namespace) has opened and that
are still open, grouped by the user owning the socket and then by the
process holding it (pid, command, executable, systemd unit). Each is marked
with the verdict the policy gives a NEW connection like it (same user, group,
protocol, address and port) and the rule that decides: an open connection
may predate the policy, or ride on an established shortcut. A connection
of a process in a governed cgroup (units, cgroups) is judged by that
cgroup's policy (the holding process's cgroup now stands for the socket's,
which is where it was made).

Outgoing means: TCP sockets in any state but listen, time-wait and closed,
and connected UDP sockets, except those whose local port is served by a
listening socket of the same protocol on the same or the wildcard address
(for UDP: an unconnected socket bound there). Those were accepted, not
opened; a connection accepted by a listener that has since closed counts as
outgoing.

The kernel does not record a socket's group. A connection is judged with
the gid of the process holding it when that process runs as the socket's
owner, else with the owner's primary group from the user database.

Judges the policy last applied unless --policy FILE is given; with nothing
applied, connections are listed without verdicts. Needs root to see other
users' processes.`,
		Example: `  leash conns
  leash conns --user apache --json
  leash conns --policy new-policy.yaml   # what a new policy would say of today's traffic`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runConns(cmd.Context(), d, g, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.policy, "policy", "", "judge with this policy file instead of the one last applied")
	fl.StringVar(&f.user, "user", "", "only connections of this user (name or uid)")
	return cmd
}

func runConns(ctx context.Context, d Deps, g *globals, f *connsFlags) error {
	env, err := d.Env(ctx, g.envOptions())
	if err != nil {
		return fmt.Errorf("load users, groups and services: %w", err)
	}
	only, err := userFilter(env.Directory, f.user)
	if err != nil {
		return err
	}
	j, err := connsJudge(ctx, d, g, f.policy)
	if err != nil {
		return err
	}
	socks, err := d.Sockets(ctx, g.netns)
	if err != nil {
		return fmt.Errorf("list sockets: %w", err)
	}
	if j.rs != nil {
		if j.local, err = d.LocalAddrs(g.netns); err != nil {
			return fmt.Errorf("list local addresses: %w", err)
		}
		j.cgroupIDs = cgroupIDsOf(d)
	}
	var conns []judgedConn
	for _, s := range outgoing(socks) {
		if only != nil && s.UID != *only {
			continue
		}
		c, err := j.judge(s, env.Directory)
		if err != nil {
			return err
		}
		conns = append(conns, c)
	}
	out := groupConns(conns, env.Directory)
	out.JudgedBy = j.name
	if g.json {
		return printJSON(d.Stdout, out)
	}
	printConns(d.Stdout, out)
	if j.rs == nil {
		fmt.Fprintf(d.Stderr, "leash: nothing applied yet (under --state-dir %s): connections are listed without verdicts; give --policy FILE to judge them\n", g.stateDir)
	}
	return nil
}

// userFilter resolves --user to a uid; nil means every user.
func userFilter(dir *identity.Directory, user string) (*uint32, error) {
	if user == "" {
		return nil, nil
	}
	u, _, err := dir.UserArg(user)
	if err != nil {
		return nil, usage("--user: %v", err)
	}
	return &u.UID, nil
}

// judge holds what connections are judged with: a ruleset and the local
// addresses (for loopback), or nothing (rs nil: no verdicts).
type judge struct {
	rs    *ruleset.Ruleset
	name  string // what judged: "generation 3 (policy.yaml)", "policy.yaml"
	local []netip.Addr
	// cgroupIDs gives a program's cgroup ids (conns_cgroups.go); nil: none.
	cgroupIDs func(path string) []uint64
}

// connsJudge is the ruleset of --policy FILE, else of the current
// generation, else none.
func connsJudge(ctx context.Context, d Deps, g *globals, path string) (judge, error) {
	if path != "" {
		c, err := loadPolicy(ctx, d, g, path)
		if err != nil {
			return judge{}, err
		}
		return judge{rs: c.Ruleset, name: path}, nil
	}
	gen, _, err := engineFor(nil, d, g, nil).View()
	switch {
	case errors.Is(err, state.ErrNone):
		return judge{}, nil
	case err != nil:
		return judge{}, fmt.Errorf("read the applied generation: %w (check --state-dir, or give --policy FILE)", err)
	}
	name := fmt.Sprintf("generation %d", gen.ID)
	if gen.PolicyFile != "" {
		name += " (" + gen.PolicyFile + ")"
	}
	if gen.Ruleset == nil { // a reset: no table, everything passes
		return judge{rs: &ruleset.Ruleset{}, name: name + ", no table"}, nil
	}
	return judge{rs: withLiveCgroups(engineFor(nil, d, g, nil), gen.Ruleset), name: name}, nil
}

// judgedConn is an outgoing socket with the gid it is judged with and, when
// there is a ruleset, the verdict for a new connection like it.
type judgedConn struct {
	sockowner.Owned
	gid      uint32
	gidKnown bool
	verdict  *eval.Result
}

// judge evaluates a new connection like s.
func (j judge) judge(s sockowner.Owned, dir *identity.Directory) (judgedConn, error) {
	c := judgedConn{Owned: s}
	c.gid, c.gidKnown = socketGID(s, dir)
	if j.rs == nil {
		return c, nil
	}
	dst := s.Dst.Addr().Unmap()
	pkt := eval.NewConnection(s.UID, c.gid, dst, uint8(s.Proto), s.Dst.Port(), 0, j.local)
	if j.cgroupIDs != nil {
		pkt.Cgroup = j.cgroupIDs(socketCgroup(s)) // programs before users (docs/policy.md)
	}
	res, err := eval.Evaluate(j.rs, pkt)
	if err != nil {
		return judgedConn{}, err
	}
	c.verdict = &res
	return c, nil
}

// noGID is judged with when a socket's group is unknown: (gid_t)-1 is no
// group's id, so only uid and everyone policies can match.
const noGID = ^uint32(0)

// socketGID is the gid to judge s with. The kernel's skgid is the fsgid of
// the task that created the socket, which sock_diag does not report. The
// fsgid of a holding process running with the socket's uid is the best
// witness (it most likely created the socket); else the owner's primary
// group from the user database.
func socketGID(s sockowner.Owned, dir *identity.Directory) (uint32, bool) {
	for _, p := range s.Processes {
		if p.FSUID == s.UID {
			return p.FSGID, true
		}
	}
	if u, ok := dir.UserByUID(s.UID); ok {
		return u.GID, true
	}
	return noGID, false
}
