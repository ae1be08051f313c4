package policy

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// parser walks goccy's YAML AST and builds the policy AST, collecting errors.
type parser struct {
	errorSink
	file string
	// lineLens are the lengths in bytes of the file's lines, to keep
	// positions inside the file.
	lineLens []int
}

// pos is the position of n: for a block mapping its first key, otherwise its
// first token.
func (p *parser) pos(n ast.Node) Pos {
	switch v := n.(type) {
	case *ast.MappingNode:
		if !v.IsFlowStyle && len(v.Values) > 0 {
			return p.pos(v.Values[0])
		}
	case *ast.MappingValueNode:
		return p.pos(v.Key)
	}
	if n == nil {
		return Pos{File: p.file, Line: 1, Col: 1}
	}
	return p.tokenPos(n.GetToken())
}

// tokenPos is the position of tk, moved inside the file if the YAML library
// placed it beyond (an implicit null after `key:` is put past the end of
// its line): at most one column past the end of the line, or the last line.
func (p *parser) tokenPos(tk *token.Token) Pos {
	if tk == nil || tk.Position == nil {
		return Pos{File: p.file, Line: 1, Col: 1}
	}
	line, col := max(tk.Position.Line, 1), max(tk.Position.Column, 1)
	if n := len(p.lineLens); n > 0 && line > n {
		line, col = n, p.lineLens[n-1]+1
	}
	if line <= len(p.lineLens) {
		col = min(col, p.lineLens[line-1]+1)
	}
	return Pos{File: p.file, Line: line, Col: col}
}

// lineLengths returns the length in bytes of every line of src.
func lineLengths(src []byte) []int {
	lens := make([]int, 0, bytes.Count(src, []byte("\n"))+1)
	for {
		i := bytes.IndexByte(src, '\n')
		if i < 0 {
			return append(lens, len(src))
		}
		lens = append(lens, i)
		src = src[i+1:]
	}
}

// describe names n's YAML type for error messages ("a list", "a string").
func describe(n ast.Node) string {
	switch v := n.(type) {
	case nil, *ast.NullNode:
		return "nothing (null)"
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode, *ast.LiteralNode:
		return fmt.Sprintf("the string %q", v.GetToken().Value)
	case *ast.IntegerNode, *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "the number " + v.GetToken().Value
	case *ast.BoolNode:
		return "the boolean " + v.GetToken().Value
	}
	return "a " + strings.ToLower(n.Type().String())
}

// unsupported reports YAML features leash does not accept (anchors,
// aliases, tags, merge keys) and returns true if n is one of them.
func (p *parser) unsupported(n ast.Node) bool {
	switch n.(type) {
	case *ast.AnchorNode:
		p.errorf(p.pos(n), "YAML anchors (&name) are not supported; use a destination list or write the value out")
	case *ast.AliasNode:
		p.errorf(p.pos(n), "YAML aliases (*name) are not supported; use a destination list or write the value out")
	case *ast.TagNode:
		p.errorf(p.pos(n), "YAML tags (!!type) are not supported; remove the tag")
	case *ast.MergeKeyNode:
		p.errorf(p.pos(n), "YAML merge keys (<<) are not supported")
	default:
		return false
	}
	return true
}

// isNull reports whether n is absent or an explicit null.
func isNull(n ast.Node) bool {
	_, ok := n.(*ast.NullNode)
	return n == nil || ok
}

// field is one key of a mapping.
type field struct {
	key    string
	keyPos Pos
	value  ast.Node
}

// mapping returns the fields of n, which must be a mapping (what names it in
// errors). Keys not in allowed and repeated keys are reported; the first
// occurrence of a repeated key is kept. ok is false if n is not a mapping.
// With allowed nil, every key is accepted.
func (p *parser) mapping(n ast.Node, what string, allowed []string) (fields []field, ok bool) {
	if p.unsupported(n) {
		return nil, false
	}
	var values []*ast.MappingValueNode
	switch v := n.(type) {
	case *ast.MappingNode:
		values = v.Values
	case *ast.MappingValueNode:
		values = []*ast.MappingValueNode{v}
	default:
		p.errorf(p.pos(n), "%s must be a mapping (key: value); got %s", what, describe(n))
		return nil, false
	}
	seen := map[string]Pos{}
	for _, mv := range values {
		f, ok := p.key(mv, what, allowed)
		if !ok {
			continue
		}
		if first, dup := seen[f.key]; dup {
			p.errorf(f.keyPos, "duplicate key %q in %s; it was first set at line %d", f.key, what, first.Line)
			continue
		}
		seen[f.key] = f.keyPos
		fields = append(fields, f)
	}
	return fields, true
}

// key checks one mapping entry's key.
func (p *parser) key(mv *ast.MappingValueNode, what string, allowed []string) (field, bool) {
	pos := p.pos(mv.Key)
	if _, isMerge := mv.Key.(*ast.MergeKeyNode); isMerge || p.unsupported(mv.Key) {
		if isMerge {
			p.errorf(pos, "YAML merge keys (<<) are not supported")
		}
		return field{}, false
	}
	var name string
	switch k := mv.Key.(type) {
	case *ast.StringNode:
		name = k.Value
	case *ast.IntegerNode, *ast.BoolNode, *ast.NullNode, *ast.FloatNode:
		name = k.GetToken().Value
	default:
		p.errorf(pos, "keys in %s must be plain names; got %s", what, describe(mv.Key))
		return field{}, false
	}
	if allowed != nil && !slices.Contains(allowed, name) {
		p.errorf(pos, "unknown key %q in %s%s (known keys: %s)", name, what, suggest(name, allowed), strings.Join(allowed, ", "))
		return field{}, false
	}
	return field{key: name, keyPos: pos, value: mv.Value}, true
}

// scalar converts a scalar node. It reports non-scalars and returns nil.
func (p *parser) scalar(n ast.Node, what string) *Scalar {
	if p.unsupported(n) {
		return nil
	}
	pos := p.pos(n)
	switch v := n.(type) {
	case nil:
		return &Scalar{Pos: pos, Kind: KindNull, Value: "null", Raw: "null"}
	case *ast.NullNode:
		return &Scalar{Pos: pos, Kind: KindNull, Value: "null", Raw: v.GetToken().Value}
	case *ast.StringNode:
		return &Scalar{Pos: pos, Kind: KindString, Value: v.Value, Raw: rawString(v)}
	case *ast.IntegerNode:
		// Kept as written: YAML 1.1 forms (01001, 0x10, 1_001) are refused
		// where a number is read, never silently converted.
		return &Scalar{Pos: pos, Kind: KindInt, Value: v.GetToken().Value, Raw: v.GetToken().Value}
	case *ast.BoolNode:
		return &Scalar{Pos: pos, Kind: KindBool, Value: strconv.FormatBool(v.Value), Raw: v.GetToken().Value}
	case *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return &Scalar{Pos: pos, Kind: KindFloat, Value: v.GetToken().Value, Raw: v.GetToken().Value}
	}
	p.errorf(pos, "%s must be a single value; got %s", what, describe(n))
	return nil
}

// rawString is a string node as written, re-quoted if it was quoted.
func rawString(v *ast.StringNode) string {
	switch v.GetToken().Type {
	case token.DoubleQuoteType, token.SingleQuoteType:
		return strconv.Quote(v.Value)
	}
	return v.Value
}

// list converts a sequence of scalars. Null gives an empty list; anything
// but a sequence is reported (hint shows an example of the right form).
func (p *parser) list(n ast.Node, what, hint string) []*Scalar {
	if isNull(n) || p.unsupported(n) {
		return nil
	}
	seq, ok := n.(*ast.SequenceNode)
	if !ok {
		p.errorf(p.pos(n), "%s must be a list, e.g. %s; got %s", what, hint, describe(n))
		return nil
	}
	var out []*Scalar
	for _, item := range seq.Values {
		if s := p.glued(item); s != nil {
			out = append(out, s)
		} else if s := p.scalar(item, "each entry of "+what); s != nil {
			out = append(out, s)
		}
	}
	return out
}

// subjectList is list for `users` and `groups`, whose entries may also be
// one-key mappings {nameKey: NAME} or {idKey: N} that say whether the value
// is a name or a number (for names that look like numbers); the key is kept
// in the entry's As.
func (p *parser) subjectList(n ast.Node, what, hint, nameKey, idKey string) []*Scalar {
	if isNull(n) || p.unsupported(n) {
		return nil
	}
	seq, ok := n.(*ast.SequenceNode)
	if !ok {
		p.errorf(p.pos(n), "%s must be a list, e.g. %s; got %s", what, hint, describe(n))
		return nil
	}
	var out []*Scalar
	for _, item := range seq.Values {
		if s := p.subjectEntry(item, what, nameKey, idKey); s != nil {
			out = append(out, s)
		}
	}
	return out
}

// subjectEntry converts one entry of a `users` or `groups` list.
func (p *parser) subjectEntry(item ast.Node, what, nameKey, idKey string) *Scalar {
	if s := p.glued(item); s != nil {
		return s
	}
	switch item.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
	default:
		return p.scalar(item, "each entry of "+what)
	}
	keys := []string{nameKey, idKey}
	fields, ok := p.mapping(item, "an entry of "+what, keys)
	if !ok || len(fields) == 0 {
		return nil
	}
	if len(fields) != 1 {
		p.errorf(fields[1].keyPos, "%s: an entry has one key, %s or %s; write one entry per %s", what, nameKey, idKey, nameKey)
		return nil
	}
	s := p.scalar(fields[0].value, what+": "+fields[0].key)
	if s != nil {
		s.As = fields[0].key
	}
	return s
}

// word converts a scalar that must be one of words.
func (p *parser) word(n ast.Node, what string, words []string) *Scalar {
	s := p.scalar(n, what)
	if s == nil {
		return nil
	}
	if s.Kind != KindString || !slices.Contains(words, s.Value) {
		p.errorf(s.Pos, "%s must be one of %s; got %s%s", what, strings.Join(words, ", "), s.Raw, suggest(s.Value, words))
		return nil
	}
	return s
}

// glued works around goccy splitting a plain scalar that contains ':' when it
// is in a flow sequence inside a flow mapping: `{to: [fd00::1]}` comes out
// as the mapping {fd00: ":1"}. When n is a one-entry mapping whose value
// starts right after the colon that ends its key, glued returns the scalar
// as written ("fd00::1", "icmp:8"); otherwise nil.
func (p *parser) glued(n ast.Node) *Scalar {
	var mv *ast.MappingValueNode
	switch v := n.(type) {
	case *ast.MappingNode:
		if len(v.Values) == 1 {
			mv = v.Values[0]
		}
	case *ast.MappingValueNode:
		mv = v
	}
	if mv == nil || !plainScalar(mv.Key) || !plainScalar(mv.Value) {
		return nil
	}
	k, v := mv.Key.GetToken(), mv.Value.GetToken()
	if k.Position == nil || v.Position == nil || k.Position.Line != v.Position.Line ||
		v.Position.Column != k.Position.Column+len([]rune(k.Value))+1 {
		return nil
	}
	text := k.Value + ":" + v.Value
	return &Scalar{Pos: p.pos(mv.Key), Kind: KindString, Value: text, Raw: text}
}

// plainScalar reports whether n is an unquoted string or integer.
func plainScalar(n ast.Node) bool {
	switch n.(type) {
	case *ast.StringNode, *ast.IntegerNode:
		tk := n.GetToken()
		return tk != nil && tk.Type != token.DoubleQuoteType && tk.Type != token.SingleQuoteType
	}
	return false
}
