package policy

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	yamlparser "github.com/goccy/go-yaml/parser"
)

// Parse reads a policy file's YAML and checks its shape: known keys, no
// duplicate keys, value types, required keys and keyword values. It does not
// interpret addresses, ports or names; Resolve does.
//
// When the YAML itself cannot be read (invalid UTF-8, a syntax error, an
// empty file, a top level that is not a mapping), Parse returns a nil File.
// Otherwise it returns the File it could build, holding every well-formed
// part, together with an ErrorList of all shape problems, so that Load can
// report semantic errors in the same pass.
func Parse(file string, src []byte) (*File, error) {
	if f := parseFast(file, src); f != nil {
		return f, nil
	}
	p := &parser{file: file}
	root := p.document(src)
	if root == nil {
		return nil, p.errs.err()
	}
	f := p.fileDecl(root)
	if f != nil {
		f.Warnings = p.warns
	}
	return f, p.errs.err()
}

// document parses src and returns its single document's body, or nil after
// reporting why there is none.
func (p *parser) document(src []byte) ast.Node {
	if !utf8.Valid(src) {
		p.errorf(invalidUTF8Pos(p.file, src), "the file is not valid UTF-8; save it as UTF-8")
		return nil
	}
	if pos, r, ok := controlCharPos(p.file, src); ok {
		p.errorf(pos, "the file contains the control character %U, which YAML does not allow; remove it", r)
		return nil
	}
	p.lineLens = lineLengths(src)
	f, err := p.parseYAML(src)
	if err != nil {
		p.syntaxError(err)
		return nil
	}
	if f == nil {
		return nil // beyond the limits, reported
	}
	var docs []*ast.DocumentNode
	for _, d := range f.Docs {
		if d != nil && d.Body != nil {
			docs = append(docs, d)
		}
	}
	if len(docs) == 0 {
		p.errorf(Pos{File: p.file, Line: 1, Col: 1}, "the policy file is empty; it needs at least `version: 1` and `policies:`")
		return nil
	}
	if len(docs) > 1 {
		p.errorf(p.pos(docs[1].Body), "a policy file holds one YAML document; remove the second one (after ---)")
	}
	if _, ok := docs[0].Body.(*ast.MappingNode); !ok {
		if _, ok := docs[0].Body.(*ast.MappingValueNode); !ok {
			p.errorf(p.pos(docs[0].Body), "the top level must be a mapping with the keys version and policies; got %s", describe(docs[0].Body))
			return nil
		}
	}
	return docs[0].Body
}

// parseYAML runs goccy's lexer and parser. Duplicate keys are allowed here
// because the walk reports them all, with positions. A file beyond the
// limits (checkLimits) is reported and gives (nil, nil). A panic inside the
// YAML library is turned into an error so that no input can crash leash.
func (p *parser) parseYAML(src []byte) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("the YAML parser failed on this input (%v)", r)
		}
	}()
	tokens := lexer.Tokenize(string(src))
	if tokens.InvalidToken() == nil && !p.checkLimits(tokens) {
		return nil, nil
	}
	return yamlparser.Parse(tokens, 0, yamlparser.AllowDuplicateMapKey())
}

// syntaxError records a YAML syntax error at its position.
func (p *parser) syntaxError(err error) {
	var yerr yaml.Error
	if errors.As(err, &yerr) {
		msg := yerr.GetMessage()
		switch {
		case strings.Contains(msg, "invalid key"):
			msg += ` (inside {...}, quote values that start with or contain ':', e.g. ["::1"])`
		case strings.Contains(msg, "not allowed in this context"):
			msg += "; this is usually indentation: the key here is not lined up with the keys of the mapping it belongs to (check its spaces against the lines above)"
		}
		p.errorf(p.tokenPos(yerr.GetToken()), "YAML syntax error: %s", msg)
		return
	}
	p.errorf(Pos{File: p.file, Line: 1, Col: 1}, "YAML syntax error: %v", err)
}

// invalidUTF8Pos is the position of the first invalid UTF-8 byte in src.
func invalidUTF8Pos(file string, src []byte) Pos {
	pos := Pos{File: file, Line: 1, Col: 1}
	for len(src) > 0 {
		r, size := utf8.DecodeRune(src)
		if r == utf8.RuneError && size <= 1 {
			return pos
		}
		pos.Col++
		if r == '\n' {
			pos.Line, pos.Col = pos.Line+1, 1
		}
		src = src[size:]
	}
	return pos
}

// controlCharPos is the position of the first character of src that YAML
// does not allow anywhere (YAML 1.2 c-printable: no C0 or C1 control
// characters other than tab, line feed, carriage return and NEL, no DEL,
// U+FFFE or U+FFFF). The YAML library accepts some of them, and they would
// end up in names and in error messages printed to a terminal. src is valid
// UTF-8.
func controlCharPos(file string, src []byte) (Pos, rune, bool) {
	pos := Pos{File: file, Line: 1, Col: 1}
	for _, r := range string(src) {
		if !yamlPrintable(r) {
			return pos, r, true
		}
		pos.Col++
		if r == '\n' {
			pos.Line, pos.Col = pos.Line+1, 1
		}
	}
	return pos, 0, false
}

// yamlPrintable reports whether r may appear in a YAML stream.
func yamlPrintable(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r' || r == 0x85:
		return true
	case r < 0x20 || (r >= 0x7f && r < 0xa0):
		return false
	case r == 0xfffe || r == 0xffff:
		return false
	}
	return true
}

// topKeys are the keys of the top-level mapping.
func topKeys() []string {
	return []string{"version", "baseline", "destinations", "policies", "tests"}
}

// file_ converts the top-level mapping.
func (p *parser) fileDecl(root ast.Node) *File {
	f := &File{Name: p.file}
	fields, _ := p.mapping(root, "the top level", topKeys())
	for _, fl := range fields {
		switch fl.key {
		case "version":
			f.Version = p.version(fl)
		case "baseline":
			f.Baseline = p.baseline(fl)
		case "destinations":
			f.Destinations = p.destinations(fl)
		case "policies":
			f.Policies = p.policies(fl)
		case "tests":
			f.Tests = p.tests(fl)
		}
	}
	top := p.pos(root)
	if !has(fields, "version") {
		p.errorf(top, "missing required key \"version\"; add `version: 1` at the top")
	}
	if !has(fields, "policies") {
		p.errorf(top, "missing required key \"policies\"; add a list of policies")
	}
	return f
}

// has reports whether fields include key.
func has(fields []field, key string) bool {
	for _, f := range fields {
		if f.key == key {
			return true
		}
	}
	return false
}

// version checks `version: 1`.
func (p *parser) version(fl field) *Scalar {
	s := p.scalar(fl.value, "version")
	if s == nil {
		return nil
	}
	if s.Kind != KindInt || s.Value != "1" {
		p.errorf(s.Pos, "unsupported version %s; this leash understands `version: 1`", s.Raw)
		return nil
	}
	return s
}

// baselineKeys are the keys of `baseline`.
func baselineKeys() []string {
	return []string{"loopback", "established", "unowned", "multicast_reports", "log", "orphan_mark", "mptcp_joins"}
}

// baseline converts the `baseline` mapping.
func (p *parser) baseline(fl field) *BaselineDecl {
	b := &BaselineDecl{Pos: fl.keyPos}
	if isNull(fl.value) {
		return b
	}
	fields, _ := p.mapping(fl.value, "baseline", baselineKeys())
	for _, f := range fields {
		switch f.key {
		case "loopback":
			b.Loopback = p.loopback(f, "baseline.loopback")
		case "established":
			b.Established = p.word(f.value, "baseline.established", []string{"allow", "deny"})
		case "unowned":
			b.Unowned = p.word(f.value, "baseline.unowned", []string{"everyone", "allow", "deny"})
		case "multicast_reports":
			b.MulticastReports = p.word(f.value, "baseline.multicast_reports", []string{"limit", "deny", "allow"})
		case "log":
			b.Log = p.logSettings(f)
		case "orphan_mark":
			b.OrphanMark = p.orphanMark(f)
		case "mptcp_joins":
			b.MPTCPJoins = p.word(f.value, "baseline.mptcp_joins", []string{"deny", "unowned"})
		}
	}
	return b
}

// loopbackWords are the word forms of `loopback`.
func loopbackWords() []string { return []string{"allow", "deny", "rules", "all", "none"} }

// loopback converts a `loopback` value: a word or a list of ports.
func (p *parser) loopback(fl field, what string) *LoopbackDecl {
	if _, isList := fl.value.(*ast.SequenceNode); isList {
		l := &LoopbackDecl{Pos: p.pos(fl.value), Ports: p.list(fl.value, what, "[53, 631/tcp]")}
		if len(l.Ports) == 0 {
			p.errorf(l.Pos, "%s is an empty list; write `deny` to allow nothing on this host", what)
			return nil
		}
		return l
	}
	w := p.word(fl.value, what, loopbackWords())
	if w == nil {
		return nil
	}
	return &LoopbackDecl{Pos: w.Pos, Word: w}
}

// nameRE is the syntax of policy and destination list names.
func nameRE() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`) }

// destinations converts the `destinations` mapping of named lists.
func (p *parser) destinations(fl field) []*DestListDecl {
	if isNull(fl.value) {
		return nil
	}
	fields, _ := p.mapping(fl.value, "destinations", nil)
	re := nameRE()
	var out []*DestListDecl
	for _, f := range fields {
		if !re.MatchString(f.key) || f.key == "any" {
			p.errorf(f.keyPos, "bad destination list name %q: use 1-32 lower-case letters, digits, - and _, starting with a letter or digit (and not \"any\")", f.key)
			continue
		}
		what := fmt.Sprintf("destination list %q", f.key)
		out = append(out, &DestListDecl{Pos: f.keyPos, Name: f.key, Entries: p.destinationList(f.value, what)})
	}
	return out
}
