package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/eval"
	"github.com/leash-dev/leash/internal/identity"
	"github.com/leash-dev/leash/internal/policy"
	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/termtext"
)

type checkFlags struct {
	policy string
	user   string
	uid    int64
	gid    int64
	to     string
	from   []string // forwarded traffic (check_forward.go)
	out    string
	unit   string
	cgroup string
	at     string
	// unowned judges a packet without an owning socket (eval.Unowned).
	unowned bool
}

func checkCmd(d Deps, g *globals) *cobra.Command {
	f := &checkFlags{uid: -1, gid: -1}
	cmd := &cobra.Command{
		Use:   "check {--user U | --unit UNIT | --cgroup PATH | --unowned} --to HOST[:PORT[/PROTO]]",
		Short: "Explain the verdict for a hypothetical connection",
		Long: `Say whether user U may open a new connection to HOST[:PORT[/PROTO]], and
which policy, rule and file line decide it. Judges the policy last applied
(its compiled ruleset, exactly what the kernel holds) unless --policy FILE
is given. A hostname is resolved and every address is judged. Without a
port the connection is a ping (ICMP echo). PROTO is tcp (default), udp,
icmp or icmpv6.

With --unit or --cgroup, the connection is a program's in that cgroup:
its cgroup's policy judges it, whatever its user (programs before users,
most specific cgroup first; see docs/policy.md), and the user's policy
only when no policy governs the cgroup. A cgroup that does not exist yet
is judged as leash daemon classifies it once it exists.

With --unowned, the packet has no owning socket: the first packet of a
connection the kernel opens itself (an NFS mount, a WireGuard or VXLAN
tunnel), judged as baseline.unowned says. With --unit or --cgroup too, it
is a packet a program's closed socket still sends (an orphan: data queued
before close(), its FIN), which keeps the program's cgroup.

Exit status: 0 allowed, 1 denied (for any address), 2 error.`,
		Example: `  leash check --user apache --to mail.example.com:25
  leash check --uid 1001 --to '[2001:db8::1]:53/udp' --policy policy.yaml
  leash check --from 192.168.1.20 --from 02:00:00:c8:01:02 --from br-lan --out eth0 --to 203.0.113.9:443
  leash check --unit nginx.service --user www-data --to 10.0.0.5:5432
  leash check --unowned --to 10.0.0.7:2049`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			err := runCheck(cmd.Context(), d, g, f)
			var ec *exitError
			if err != nil && !errors.As(err, &ec) {
				err = &exitError{code: 2, err: err} // any failure to judge is exit 2
			}
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.policy, "policy", "", "judge this policy file instead of the one last applied")
	fl.StringVar(&f.user, "user", "", "user name or uid")
	decimalVar(fl, &f.uid, "uid", -1, identity.MaxUID, "numeric uid (need not exist)")
	decimalVar(fl, &f.gid, "gid", -1, identity.MaxUID, "the socket's gid (default: the user's primary group)")
	fl.StringVar(&f.to, "to", "", "destination HOST[:PORT[/PROTO]]")
	fl.StringSliceVar(&f.from, "from", nil, "judge a forwarded connection from this source address, MAC address or incoming interface (repeatable)")
	fl.StringVar(&f.out, "out", "", "the interface the connection leaves through, for rules with via (default: lo for this host, else the route's interface, or for --from unknown: via rules do not match)")
	fl.StringVar(&f.unit, "unit", "", "judge a program of this systemd unit (its cgroup by systemd's naming; as root unless --user or --uid)")
	fl.StringVar(&f.cgroup, "cgroup", "", "judge a program in this cgroup (a path below the cgroup2 mount; as root unless --user or --uid)")
	fl.BoolVar(&f.unowned, "unowned", false, "judge a packet without an owning socket: one the kernel sends itself (NFS, WireGuard, VXLAN), or with --unit/--cgroup a closed socket's")
	fl.StringVar(&f.at, "at", "", `judge a connection opened at this time: "YYYY-MM-DD HH:MM [ZONE]" (default: now)`)
	cmd.MarkFlagRequired("to")
	return cmd
}

// verdictJSON is one judged address, for --json.
type verdictJSON struct {
	From    string `json:"from,omitempty"` // a forwarded connection's sender (--from)
	User    string `json:"user,omitempty"`
	UID     uint32 `json:"uid"`
	GID     uint32 `json:"gid"`
	Dest    string `json:"destination"`
	Addr    string `json:"address"`
	Port    uint16 `json:"port,omitempty"`
	Proto   string `json:"proto"`
	Verdict string `json:"verdict"` // allow, deny, reject
	Kernel  string `json:"kernel"`  // the nft verdict
	Policy  string `json:"policy,omitempty"`
	Rule    int    `json:"rule,omitempty"`
	What    string `json:"what"`
	ID      string `json:"id,omitempty"`
	Where   string `json:"where,omitempty"`
	Text    string `json:"text,omitempty"`
	Logged  string `json:"logged,omitempty"` // NFLOG prefix when the denial is logged
	// Cgroup is the program's cgroup path (check --unit, --cgroup);
	// Precedence says whose policy its user would have had instead.
	Cgroup     string `json:"cgroup,omitempty"`
	Precedence string `json:"precedence,omitempty"`
	// At is when the connection is judged, for a ruleset with time windows.
	At string `json:"at,omitempty"`
	// Out is the outgoing interface found from the route, for via rules.
	Out string `json:"out,omitempty"`
	// Unowned: the packet has no owning socket (check --unowned); UID
	// and GID are then 0 and meaningless.
	Unowned bool `json:"unowned,omitempty"`
	// Closed names the rule that would have decided had its time window
	// been open at At ("POLICY/rN (FILE:LINE) would allow").
	Closed string `json:"closed_window,omitempty"`
	// Limited says the deciding rule limits new connections, and what
	// happens beyond the limit.
	Limited string `json:"limited,omitempty"`
	// Caveats: where leash allows, the other firewalls on the output hook
	// that may still drop the packet.
	Caveats []string `json:"caveats,omitempty"`
}

func runCheck(ctx context.Context, d Deps, g *globals, f *checkFlags) error {
	env, err := d.Env(ctx, g.envOptions())
	if err != nil {
		return fmt.Errorf("load users, groups and services: %w", err)
	}
	if len(f.from) > 0 {
		if f.unowned {
			return usage("give at most one of --from and --unowned")
		}
		return runCheckForwarded(ctx, d, g, f, env)
	}
	name, uid, gid, err := checkWho(env, f)
	if err != nil {
		return err
	}
	t, err := policy.ParseTarget(f.to, env.Services)
	if err != nil {
		return usage("--to: %w", err)
	}
	if f.out != "" {
		if err := ruleset.ValidIfname(f.out, false); err != nil {
			return usage("--out: %v", err)
		}
	}
	at, err := checkTime(d, g, env, f.at)
	if err != nil {
		return err
	}
	rs, err := checkRuleset(ctx, d, g, f.policy)
	if err != nil {
		return err
	}
	cgPath, cgIDs, rs, err := checkCgroup(d, g, f, rs)
	if err != nil {
		return err
	}
	addrs, err := targetAddrs(ctx, env, t.Host)
	if err != nil {
		return err
	}
	local, err := d.LocalAddrs(g.netns)
	if err != nil {
		return fmt.Errorf("list local addresses: %w", err)
	}
	// Best effort: without the privileges to list the ruleset, check
	// still answers for leash's table alone.
	others, othersErr := engineFor(nil, d, g, nil).Others()
	var out []verdictJSON
	for _, a := range addrs {
		proto, icmpType := t.IPProto(a)
		var pkt eval.Packet
		if f.unowned {
			pkt = eval.Unowned(a, proto, t.Port, icmpType, cgIDs, local)
		} else {
			pkt = eval.NewConnection(uid, gid, a, proto, t.Port, icmpType, local)
			pkt.Cgroup = cgIDs
		}
		pkt.Oifname = localOif(pkt, f.out)
		routed := ""
		if pkt.Oifname == "" && d.RouteOif != nil && hasVia(rs) {
			if routed, err = d.RouteOif(g.netns, a); err != nil {
				return fmt.Errorf("find the route to %s: %w", a, err)
			}
			pkt.Oifname = routed
		}
		pkt.At = at
		res, err := eval.Evaluate(rs, pkt)
		if err != nil {
			return err
		}
		v := explain(name, uid, gid, t, a, res)
		if routed != "" {
			v.Out = routed + " (the route's interface; --out to judge another)"
		}
		v.Cgroup, v.Unowned = cgPath, f.unowned
		if cgPath != "" && !f.unowned {
			v.Precedence, err = precedence(rs, pkt, res)
			if err != nil {
				return err
			}
		}
		if hasWindows(rs) {
			v.At = atText(at, env.Zone)
		}
		v.Limited = limitNote(rs, res)
		if othersErr == nil && res.Allowed() {
			v.Caveats = others.Caveats("output", outputPriority(rs), family(a))
		}
		out = append(out, v)
	}
	return printCheck(d, g, out)
}

// printCheck renders the verdicts; exit 1 when any denies.
func printCheck(d Deps, g *globals, out []verdictJSON) error {
	if g.json {
		if err := printJSON(d.Stdout, out); err != nil {
			return err
		}
	} else {
		printVerdicts(d.Stdout, out)
	}
	for _, v := range out {
		if v.Verdict != "allow" {
			return &exitError{code: 1}
		}
	}
	return nil
}

// checkWho is the sender check judges: --user/--uid/--gid's (root for a
// program's unless given), or nobody with --unowned.
func checkWho(env policy.Env, f *checkFlags) (string, uint32, uint32, error) {
	if f.unowned {
		if f.user != "" || f.uid >= 0 || f.gid >= 0 {
			return "", 0, 0, usage("--unowned judges a packet no user owns: drop --user, --uid and --gid")
		}
		return "", 0, 0, nil
	}
	if (f.unit != "" || f.cgroup != "") && f.user == "" && f.uid < 0 {
		f.uid, f.gid = 0, 0 // a program: as root unless told
	}
	return subject(env.Directory, f)
}

// subject resolves --user/--uid/--gid to a name, uid and socket gid.
func subject(dir *identity.Directory, f *checkFlags) (string, uint32, uint32, error) {
	if (f.user == "") == (f.uid < 0) {
		return "", 0, 0, usage("give exactly one of --user or --uid")
	}
	arg := f.user
	if arg == "" {
		if f.uid > identity.MaxUID {
			return "", 0, 0, usage("--uid %d is out of range", f.uid)
		}
		arg = strconv.FormatInt(f.uid, 10)
	}
	u, known, err := dir.UserArg(arg)
	if err != nil {
		return "", 0, 0, usage("--user: %v", err)
	}
	gid := u.GID
	switch {
	case f.gid >= 0:
		gid = uint32(f.gid)
	case !known:
		return "", 0, 0, usage("uid %d has no passwd entry: give its socket group with --gid", u.UID)
	}
	return u.Name, u.UID, gid, nil
}

// checkRuleset is the ruleset to judge: a policy file compiled now, or the
// ruleset of the generation last applied.
func checkRuleset(ctx context.Context, d Deps, g *globals, path string) (*ruleset.Ruleset, error) {
	if path != "" {
		c, err := loadPolicy(ctx, d, g, path)
		if err != nil {
			return nil, err
		}
		return c.Ruleset, nil
	}
	gen, _, err := engineFor(nil, d, g, nil).View()
	if err != nil {
		return nil, fmt.Errorf("%w; give the policy with --policy FILE", err)
	}
	if gen.Ruleset == nil { // a reset: no table, nothing is filtered
		return &ruleset.Ruleset{}, nil
	}
	if !g.at.IsZero() && hasWindows(gen.Ruleset) {
		// The applied windows cover the days after the apply only: judge
		// another time by the same policy compiled for it.
		if gen.Policy == nil {
			return nil, fmt.Errorf("--at: the applied policy has time windows but its source is missing; give the policy with --policy FILE")
		}
		c, err := compileSource(ctx, d, g, "applied policy", gen.Policy)
		if err != nil {
			return nil, err
		}
		return c.Ruleset, nil
	}
	return gen.Ruleset, nil
}

func targetAddrs(ctx context.Context, env policy.Env, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	addrs, err := env.Resolver.LookupHost(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", host, err)
	}
	return addrs, nil
}

func explain(name string, uid, gid uint32, t policy.Target, a netip.Addr, res eval.Result) verdictJSON {
	v := verdictJSON{User: name, UID: uid, GID: gid, Dest: t.Describe(a), Addr: a.String(), Port: t.Port,
		Proto: t.Proto, Verdict: verdictWord(res.Verdict), Kernel: kernelWord(res.Verdict), Logged: res.Logged}
	if res.Rule == nil {
		v.What = "no leash rule matched (base chain policy accept)"
		return v
	}
	o := res.Rule.Origin
	v.Policy, v.Rule, v.What, v.ID, v.Where, v.Text = o.Policy, o.Rule, o.What, o.ID, o.Where(), o.Text
	if c := res.Closed; c != nil && c.Origin.ID != "" {
		v.Closed = fmt.Sprintf("%s would %s, but its time window is closed then", c.Origin.ID, verdictWord(res.ClosedVerdict))
		if w := c.Origin.Where(); w != "" {
			v.Closed = fmt.Sprintf("%s (%s) would %s, but its time window is closed then", c.Origin.ID, w, verdictWord(res.ClosedVerdict))
		}
	}
	return v
}

// outputPriority is the priority of rs's output base chain (0 if none).
func outputPriority(rs *ruleset.Ruleset) int32 {
	for _, c := range rs.Chains {
		if c.Hook != nil && c.Hook.Hook == "output" {
			return c.Hook.Priority
		}
	}
	return 0
}

// family is 4 or 6.
func family(a netip.Addr) int {
	if a.Is4() || a.Is4In6() {
		return 4
	}
	return 6
}

func verdictWord(v ruleset.Verdict) string {
	switch v.Kind {
	case ruleset.Accept:
		return "allow"
	case ruleset.Drop:
		return "deny"
	}
	return "reject"
}

func kernelWord(v ruleset.Verdict) string {
	if t := ruleset.VerdictText(v); t != "" {
		return t
	}
	return string(v.Kind)
}

func printVerdicts(w io.Writer, vs []verdictJSON) {
	for _, v := range vs {
		who := fmt.Sprintf("uid %d", v.UID)
		if v.User != "" {
			who = fmt.Sprintf("%s (uid %d)", termtext.Field(v.User), v.UID)
		}
		if v.From != "" {
			who = "from " + termtext.Escape(v.From)
		}
		switch {
		case v.Unowned && v.Cgroup != "":
			who = fmt.Sprintf("orphan of cgroup %s (no owner)", termtext.Field(v.Cgroup))
		case v.Unowned:
			who = "unowned (the kernel's own)"
		case v.Cgroup != "":
			who = fmt.Sprintf("cgroup %s as %s", termtext.Field(v.Cgroup), who)
		}
		fmt.Fprintf(w, "%-6s %s -> %s\n", v.Verdict, who, termtext.Escape(v.Dest))
		switch {
		case v.ID == "":
			fmt.Fprintf(w, "       %s\n", termtext.Escape(v.What))
		case v.Where != "":
			fmt.Fprintf(w, "       by %s: %s  (%s)\n", termtext.Escape(v.ID), termtext.Escape(v.Text), termtext.Escape(v.Where))
		default:
			fmt.Fprintf(w, "       by %s: %s\n", termtext.Escape(v.ID), termtext.Escape(v.Text))
		}
		fmt.Fprintf(w, "       kernel: %s\n", v.Kernel)
		if v.Precedence != "" {
			fmt.Fprintf(w, "       precedence: %s\n", termtext.Escape(v.Precedence))
		}
		if v.At != "" {
			fmt.Fprintf(w, "       at: %s\n", v.At)
		}
		if v.Out != "" {
			fmt.Fprintf(w, "       out: %s\n", termtext.Escape(v.Out))
		}
		if v.Closed != "" {
			fmt.Fprintf(w, "       window: %s\n", termtext.Escape(v.Closed))
		}
		if v.Limited != "" {
			fmt.Fprintf(w, "       rate-limited: %s\n", termtext.Escape(v.Limited))
		}
		for _, c := range v.Caveats {
			fmt.Fprintf(w, "       note: %s\n", termtext.Escape(c))
		}
		if v.Logged != "" {
			fmt.Fprintf(w, "       logged: %q (see leash log)\n", v.Logged)
		}
	}
}
