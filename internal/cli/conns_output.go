package cli

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/leash-dev/leash/internal/identity"
	"github.com/leash-dev/leash/internal/termtext"
)

// connsJSON is the output of conns: users by uid, their processes by pid.
type connsJSON struct {
	// JudgedBy names what gave the verdicts ("generation 3 (policy.yaml)",
	// a --policy file); empty when nothing was applied: no verdicts.
	JudgedBy string          `json:"judged_by,omitempty"`
	Users    []connsUserJSON `json:"users"`
}

type connsUserJSON struct {
	User      string          `json:"user,omitempty"`
	UID       uint32          `json:"uid"`
	Processes []connsProcJSON `json:"processes"`
}

// connsProcJSON is a process and the connections it holds; PID 0 collects
// the connections no process was found for (closed, exited, unreadable).
type connsProcJSON struct {
	PID         int        `json:"pid,omitempty"`
	Comm        string     `json:"comm,omitempty"`
	Exe         string     `json:"exe,omitempty"`
	Cmdline     []string   `json:"cmdline,omitempty"`
	Cgroup      string     `json:"cgroup,omitempty"`
	Unit        string     `json:"unit,omitempty"`
	UserUnit    string     `json:"user_unit,omitempty"`
	Connections []connJSON `json:"connections"`
}

type connJSON struct {
	Proto string `json:"proto"`
	Src   string `json:"src"`
	Dst   string `json:"dst"`
	State string `json:"state"`
	Inode uint64 `json:"inode,omitempty"`
	// AlsoHeldBy lists other processes holding the socket (after fork).
	AlsoHeldBy []int `json:"also_held_by,omitempty"`
	// GID is the group the connection was judged with, absent if unknown.
	GID *uint32 `json:"gid,omitempty"`
	// The verdict and what decided it, as in check --json.
	Verdict string `json:"verdict,omitempty"` // allow, deny, reject
	Kernel  string `json:"kernel,omitempty"`  // the nft verdict
	Policy  string `json:"policy,omitempty"`
	Rule    int    `json:"rule,omitempty"`
	What    string `json:"what,omitempty"`
	ID      string `json:"id,omitempty"`    // the deciding rule, e.g. webmail/r1
	Where   string `json:"where,omitempty"` // its policy line
	Text    string `json:"text,omitempty"`
}

// groupConns groups connections by owner uid, then by the lowest pid
// holding them; everything sorted.
func groupConns(conns []judgedConn, dir *identity.Directory) connsJSON {
	byUID := map[uint32]map[int]*connsProcJSON{}
	for _, c := range conns {
		procs := byUID[c.UID]
		if procs == nil {
			procs = map[int]*connsProcJSON{}
			byUID[c.UID] = procs
		}
		pid := 0
		if len(c.Processes) > 0 {
			pid = c.Processes[0].PID
		}
		p := procs[pid]
		if p == nil {
			p = procJSON(c)
			procs[pid] = p
		}
		p.Connections = append(p.Connections, connOf(c))
	}
	out := connsJSON{Users: []connsUserJSON{}}
	for uid, procs := range byUID {
		u := connsUserJSON{UID: uid}
		if known, ok := dir.UserByUID(uid); ok {
			u.User = known.Name
		}
		for _, p := range procs {
			slices.SortFunc(p.Connections, func(a, b connJSON) int {
				return cmp.Or(cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.Dst, b.Dst), cmp.Compare(a.Src, b.Src))
			})
			u.Processes = append(u.Processes, *p)
		}
		slices.SortFunc(u.Processes, func(a, b connsProcJSON) int { return cmp.Compare(a.PID, b.PID) })
		out.Users = append(out.Users, u)
	}
	slices.SortFunc(out.Users, func(a, b connsUserJSON) int { return cmp.Compare(a.UID, b.UID) })
	return out
}

func procJSON(c judgedConn) *connsProcJSON {
	if len(c.Processes) == 0 {
		return &connsProcJSON{}
	}
	p := c.Processes[0]
	return &connsProcJSON{PID: p.PID, Comm: p.Comm, Exe: p.Exe, Cmdline: p.Cmdline, Cgroup: p.Cgroup, Unit: p.Unit, UserUnit: p.UserUnit}
}

func connOf(c judgedConn) connJSON {
	j := connJSON{Proto: c.Proto.String(), Src: c.Src.String(), Dst: c.Dst.String(), State: c.State.String(), Inode: c.Inode}
	for _, p := range c.Processes[min(1, len(c.Processes)):] {
		j.AlsoHeldBy = append(j.AlsoHeldBy, p.PID)
	}
	if c.gidKnown {
		gid := c.gid
		j.GID = &gid
	}
	if c.verdict == nil {
		return j
	}
	res := *c.verdict
	j.Verdict, j.Kernel = verdictWord(res.Verdict), kernelWord(res.Verdict)
	if res.Rule == nil {
		j.What = "no leash rule matched (base chain policy accept)"
		return j
	}
	o := res.Rule.Origin
	j.Policy, j.Rule, j.What, j.ID, j.Where, j.Text = o.Policy, o.Rule, o.What, o.ID, o.Where(), o.Text
	return j
}

// printConns prints the grouped connections for a person: a user line, a
// line per process, and one aligned line per connection. Names, paths and
// units are escaped (termtext.Field): one line each, whatever they hold.
func printConns(w io.Writer, out connsJSON) {
	n := 0
	for _, u := range out.Users {
		for _, p := range u.Processes {
			n += len(p.Connections)
		}
	}
	if n == 0 {
		fmt.Fprintln(w, "no outgoing connections")
		return
	}
	if out.JudgedBy != "" {
		fmt.Fprintf(w, "verdicts of %s for a new connection like each one\n", termtext.Escape(out.JudgedBy))
	}
	width := endpointsWidth(out)
	for _, u := range out.Users {
		fmt.Fprintln(w, userLine(u))
		for _, p := range u.Processes {
			fmt.Fprintln(w, "  "+processLine(p))
			for _, c := range p.Connections {
				fmt.Fprintln(w, "    "+connLine(c, width))
			}
		}
	}
	fmt.Fprintf(w, "%d connection(s) of %d user(s)\n", n, len(out.Users))
}

func userLine(u connsUserJSON) string {
	if u.User == "" {
		return fmt.Sprintf("uid %d (no user of that uid)", u.UID)
	}
	return fmt.Sprintf("%s (uid %d)", termtext.Field(u.User), u.UID)
}

func processLine(p connsProcJSON) string {
	if p.PID == 0 {
		return "no process found (socket closed, process exited, or not visible)"
	}
	s := fmt.Sprintf("pid %d %s", p.PID, termtext.Field(p.Comm))
	if p.Exe != "" {
		s += " (" + termtext.Field(p.Exe) + ")"
	}
	switch {
	case p.UserUnit != "":
		s += " unit " + termtext.Field(p.Unit) + " / " + termtext.Field(p.UserUnit)
	case p.Unit != "":
		s += " unit " + termtext.Field(p.Unit)
	}
	return s
}

func endpoints(c connJSON) string { return c.Src + " -> " + c.Dst }

func endpointsWidth(out connsJSON) int {
	w := 0
	for _, u := range out.Users {
		for _, p := range u.Processes {
			for _, c := range p.Connections {
				w = max(w, len(endpoints(c)))
			}
		}
	}
	return w
}

func connLine(c connJSON, width int) string {
	s := fmt.Sprintf("%-4s %-*s  %-11s", c.Proto, width, endpoints(c), c.State)
	switch {
	case c.Verdict == "":
	case c.ID != "":
		s += fmt.Sprintf("  %-6s by %s", c.Verdict, c.ID)
	default:
		s += fmt.Sprintf("  %-6s (%s)", c.Verdict, termtext.Escape(c.What))
	}
	if len(c.AlsoHeldBy) > 0 {
		s += fmt.Sprintf("  (also held by pid %s)", joinInts(c.AlsoHeldBy))
	}
	return strings.TrimRight(s, " ")
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}
