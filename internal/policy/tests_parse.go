package policy

import (
	"fmt"

	"github.com/goccy/go-yaml/ast"
)

// TestsDecl is the `tests` section: cases `leash test` proves in a sandbox,
// and the addresses the sandbox's DNS gives hostnames. It is written either
// as a list of cases, or as a mapping {hosts: {...}, cases: [...]}.
type TestsDecl struct {
	Pos   Pos
	Hosts []*HostDecl
	Cases []*CaseDecl
}

// HostDecl maps a hostname to the addresses the sandbox answers for it.
type HostDecl struct {
	Pos   Pos
	Name  string
	Addrs []*Scalar
}

// CaseDecl is one test case: {as: WHO, connect: HOST:PORT/PROTO, expect:
// allow|deny|reject}, or, for a connection made to the subject,
// {as: WHO, serve: PORT/PROTO, expect: ...}.
type CaseDecl struct {
	Pos     Pos
	As      *AsDecl
	Connect *Scalar
	Serve   *Scalar // set instead of Connect: WHO listens, a peer connects in
	Expect  *Scalar
	// At is when the connection is opened (ParseAt), nil for now.
	At   *Scalar
	Text string // the case as one line, for reports
	// From, instead of As: the case is a connection this host forwards
	// from a LAN host with these addresses, MAC or incoming interface
	// (tests_forward.go).
	From []*Scalar
}

// AsDecl is who a case runs as: a user name or uid (`as: apache`, `as: 1001`),
// or a mapping {user: NAME}, {uid: N, gid: M}, {uid: N, group: NAME} (uid N
// with the group as its socket gid), {group: NAME} (a member of the group).
type AsDecl struct {
	Pos   Pos
	User  *Scalar
	UID   *Scalar
	GID   *Scalar
	Group *Scalar
	// Unit or Cgroup: the case runs as a program in that cgroup (as root
	// unless a user is given too).
	Unit   *Scalar
	Cgroup *Scalar
}

func testsKeys() []string { return []string{"hosts", "cases"} }
func caseKeys() []string  { return []string{"as", "connect", "serve", "expect", "from", "at"} }
func asKeys() []string    { return []string{"user", "uid", "gid", "group", "unit", "cgroup"} }

// ExpectWords are the values of a case's expect.
var expectWords = []string{"allow", "deny", "reject"}

// tests converts the `tests` section.
func (p *parser) tests(fl field) *TestsDecl {
	t := &TestsDecl{Pos: fl.keyPos}
	if isNull(fl.value) {
		return t
	}
	if seq, ok := fl.value.(*ast.SequenceNode); ok {
		t.Cases = p.cases(seq)
		return t
	}
	fields, ok := p.mapping(fl.value, "tests", testsKeys())
	if !ok {
		return t
	}
	for _, f := range fields {
		switch f.key {
		case "hosts":
			t.Hosts = p.testHosts(f)
		case "cases":
			seq, ok := f.value.(*ast.SequenceNode)
			if !ok {
				if !isNull(f.value) {
					p.errorf(f.keyPos, "tests: cases must be a list of {as: ..., connect: ..., expect: ...}; got %s", describe(f.value))
				}
				continue
			}
			t.Cases = p.cases(seq)
		}
	}
	return t
}

func (p *parser) testHosts(f field) []*HostDecl {
	fields, ok := p.mapping(f.value, "tests: hosts", nil)
	if !ok {
		return nil
	}
	var out []*HostDecl
	for _, h := range fields {
		addrs := p.list(h.value, "tests: hosts: "+h.key, "[192.0.2.25, 2001:db8::25]")
		out = append(out, &HostDecl{Pos: h.keyPos, Name: h.key, Addrs: addrs})
	}
	return out
}

func (p *parser) cases(seq *ast.SequenceNode) []*CaseDecl {
	var out []*CaseDecl
	for _, item := range seq.Values {
		if c := p.testCase(item); c != nil {
			out = append(out, c)
		}
	}
	return out
}

func (p *parser) testCase(item ast.Node) *CaseDecl {
	fields, ok := p.mapping(item, "a test case", caseKeys())
	if !ok {
		return nil
	}
	c := &CaseDecl{Pos: p.pos(item)}
	for _, f := range fields {
		switch f.key {
		case "as":
			c.As = p.as(f)
		case "connect":
			if c.Connect = p.glued(f.value); c.Connect == nil {
				c.Connect = p.scalar(f.value, "connect")
			}
		case "serve":
			if c.Serve = p.glued(f.value); c.Serve == nil {
				c.Serve = p.scalar(f.value, "serve")
			}
		case "expect":
			c.Expect = p.word(f.value, "expect", expectWords)
		case "from":
			c.From = p.caseFrom(f)
		case "at":
			c.At = p.caseAt(f)
		}
	}
	c.Text = c.text()
	if has(fields, "from") && has(fields, "as") {
		p.errorf(c.Pos, "test case has both \"as\" and \"from\": a connection is a local user's (as) or a forwarded host's (from)")
	}
	if has(fields, "from") && has(fields, "serve") {
		p.errorf(c.Pos, "test case has both \"from\" and \"serve\": a case from a LAN host is a connection it makes (connect: HOST:PORT/PROTO)")
	}
	for _, key := range []string{"as", "expect"} {
		if key == "as" && has(fields, "from") {
			continue
		}
		if !has(fields, key) {
			p.errorf(c.Pos, "test case is missing %q; write {as: USER, connect: HOST:PORT/PROTO, expect: allow|deny}", key)
		}
	}
	switch {
	case has(fields, "connect") && has(fields, "serve"):
		p.errorf(c.Pos, "test case has both \"connect\" and \"serve\"; a case is either a connection the user makes (connect: HOST:PORT/PROTO) or one made to the user's server (serve: PORT/PROTO): split it in two")
	case !has(fields, "connect") && !has(fields, "serve"):
		p.errorf(c.Pos, "test case is missing \"connect\"; write {as: USER, connect: HOST:PORT/PROTO, expect: allow|deny}, or {as: USER, serve: PORT/PROTO, expect: allow|deny} for a connection to the user's server")
	}
	return c
}

func (p *parser) as(f field) *AsDecl {
	a := &AsDecl{Pos: p.pos(f.value)}
	if _, isMap := f.value.(*ast.MappingNode); !isMap {
		if _, isMV := f.value.(*ast.MappingValueNode); !isMV {
			s := p.scalar(f.value, "as")
			if s != nil && s.Kind == KindInt {
				a.UID = s
			} else {
				a.User = s
			}
			return a
		}
	}
	fields, ok := p.mapping(f.value, "as", asKeys())
	if !ok {
		return nil
	}
	for _, g := range fields {
		s := p.scalar(g.value, "as: "+g.key)
		switch g.key {
		case "user":
			a.User = s
		case "uid":
			a.UID = s
		case "gid":
			a.GID = s
		case "group":
			a.Group = s
		case "unit":
			a.Unit = s
		case "cgroup":
			a.Cgroup = s
		}
	}
	n := btoi(a.User != nil) + btoi(a.UID != nil) + btoi(a.Group != nil && a.UID == nil)
	program := btoi(a.Unit != nil) + btoi(a.Cgroup != nil)
	if program > 1 || (n != 1 && !(n == 0 && program == 1)) || (a.GID != nil && (a.UID == nil || a.Group != nil)) {
		p.errorf(a.Pos, "as: write {user: NAME}, {uid: N}, {uid: N, gid: M}, {uid: N, group: NAME} or {group: NAME}, or a program: {unit: NAME.service} or {cgroup: PATH}, with one of those for its user (root if none)")
	}
	return a
}

// text is the case as one line, e.g. {as: apache, connect: mail.example.com:25/tcp, expect: allow}.
func (c *CaseDecl) text() string {
	raw := func(s *Scalar) string {
		if s == nil {
			return "?"
		}
		return s.Raw
	}
	at := ""
	if c.At != nil {
		at = ", at: " + c.At.Raw
	}
	if c.From != nil {
		return fmt.Sprintf("{from: %s, connect: %s, expect: %s%s}", flowList(c.From), raw(c.Connect), raw(c.Expect), at)
	}
	if c.Serve != nil {
		return fmt.Sprintf("{as: %s, serve: %s, expect: %s}", c.As.text(), raw(c.Serve), raw(c.Expect))
	}
	if c.Serve != nil {
		return fmt.Sprintf("{as: %s, serve: %s, expect: %s%s}", c.As.text(), raw(c.Serve), raw(c.Expect), at)
	}
	return fmt.Sprintf("{as: %s, connect: %s, expect: %s%s}", c.As.text(), raw(c.Connect), raw(c.Expect), at)
}

func (a *AsDecl) text() string {
	if a != nil && (a.Unit != nil || a.Cgroup != nil) {
		prog := "{unit: "
		s := a.Unit
		if s == nil {
			prog, s = "{cgroup: ", a.Cgroup
		}
		who := *a
		who.Unit, who.Cgroup = nil, nil
		if w := who.text(); w != "?" {
			return prog + s.Raw + ", as: " + w + "}"
		}
		return prog + s.Raw + "}"
	}
	switch {
	case a == nil:
		return "?"
	case a.UID != nil && a.Group != nil:
		return "{uid: " + a.UID.Raw + ", group: " + a.Group.Raw + "}"
	case a.Group != nil:
		return "{group: " + a.Group.Raw + "}"
	case a.UID != nil && a.GID != nil:
		return "{uid: " + a.UID.Raw + ", gid: " + a.GID.Raw + "}"
	case a.UID != nil:
		return a.UID.Raw
	case a.User != nil:
		return a.User.Raw
	}
	return "?"
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
