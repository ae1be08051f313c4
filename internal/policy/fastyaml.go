package policy

import (
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// The fast reader: the plain subset of YAML that policy files are written
// in, read in one linear pass into the same goccy AST (node types, token
// types and values, positions) that goccy's lexer and parser build, so that
// the walk (parse.go) is the same code for both. goccy needs about 7 times
// the time and 4 times the memory (an 11 MB file: 4 s and 2.4 GB against
// 0.6 s and 0.6 GB), most of it tokens that keep their source text and
// grouped copies of them.
//
// The subset: block mappings whose keys are plain names, block sequences,
// one-line flow sequences and mappings ([a, b], {k: v}), plain scalars
// without '#' or flow indicators (with ':' only outside flow mappings, see
// plainText), quoted scalars without escapes, and comments; spaces only
// (no tab), ASCII outside comments, \n line ends.
// Anything else (anchors, tags, block scalars, multi-line scalars or flows,
// an implicit null, a second document, odd indentation, beyond the limits
// of limits.go) is declined, and goccy reads the file instead. Parse also
// goes to goccy when the walk of the fast tree finds any error or warning,
// so every message about a file is the one goccy's tree gives.

// fastRoot is fastDocument of a file that passes the checks of document
// (UTF-8, no control characters, even in comments); nil otherwise.
func fastRoot(src []byte) ast.Node {
	if !utf8.Valid(src) {
		return nil
	}
	if _, _, bad := controlCharPos("", src); bad {
		return nil
	}
	return fastDocument(src)
}

// fastDocument reads src into the body of its single document, or returns
// nil when src is outside the subset.
func fastDocument(src []byte) (root ast.Node) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(fastDeclined); !ok {
				panic(r)
			}
			root = nil
		}
	}()
	f := &fastYAML{src: string(src)}
	f.split()
	if len(f.lines) == 0 || f.lines[0].indent != 0 {
		return nil
	}
	root = f.block(0)
	if f.i != len(f.lines) {
		return nil
	}
	if _, ok := root.(*ast.MappingNode); !ok {
		return nil
	}
	return root
}

// fastDeclined is the panic value that ends a fast read of a file outside
// the subset; fastDocument recovers it.
type fastDeclined struct{}

// decline abandons the fast read.
func decline() { panic(fastDeclined{}) }

// fastLine is one line with content: src[start:end] without its indent,
// comment and trailing spaces.
type fastLine struct {
	num        int // 1-based
	lineStart  int // offset of the line's first byte
	start, end int
	indent     int // 0-based column of start
}

// fastYAML is the state of one fast read.
type fastYAML struct {
	src   string
	lines []fastLine // the lines with content
	i     int        // the current line
	depth int        // nesting of blocks and flows
	// flowMaps is the number of flow mappings the reader is in.
	flowMaps int
	// worker: this reader reads part of a parallel sequence
	// (parallelSequence) and reads its sequences itself.
	worker bool
	// Slabs that positions and nodes are carved from: a few allocations
	// instead of one per object.
	positions []token.Position
	tokens    []token.Token
	bases     []ast.BaseNode
	strs      []ast.StringNode
	mvs       []ast.MappingValueNode
}

// slabSize is the number of objects of one slab allocation.
const slabSize = 1024

// take returns a pointer to a new zero T carved from *slab.
func take[T any](slab *[]T) *T {
	if len(*slab) == 0 {
		*slab = make([]T, slabSize)
	}
	v := &(*slab)[0]
	*slab = (*slab)[1:]
	return v
}

// split finds the lines with content, and declines characters outside the
// subset.
func (f *fastYAML) split() {
	src := f.src
	f.lines = make([]fastLine, 0, strings.Count(src, "\n")+1)
	num := 0
	for off := 0; off < len(src); {
		num++
		end, next := len(src), len(src)
		if nl := strings.IndexByte(src[off:], '\n'); nl >= 0 {
			end, next = off+nl, off+nl+1
		}
		ind := off
		for ind < end && src[ind] == ' ' {
			ind++
		}
		cend, quote, comment := ind, byte(0), false
	scan:
		for j := ind; j < end; j++ {
			c := src[j]
			switch {
			case c < 0x20 || c >= 0x7f: // tab, CR, control, non-ASCII (columns count runes)
				decline()
			case quote != 0:
				if c == quote {
					quote = 0
				}
			case c == '#' && (j == ind || src[j-1] == ' '):
				comment = true
				break scan
			case c == '"' || c == '\'':
				quote = c
			}
			if c != ' ' {
				cend = j + 1
			}
		}
		if quote != 0 {
			decline() // a quoted scalar over several lines
		}
		if cend > ind && cend < end && !comment {
			decline() // goccy places a scalar before trailing spaces differently
		}
		if cend > ind {
			if ind == off && (strings.HasPrefix(src[ind:cend], "---") || strings.HasPrefix(src[ind:cend], "...")) {
				decline() // document markers
			}
			f.lines = append(f.lines, fastLine{num: num, lineStart: off, start: ind, end: cend, indent: ind - off})
		}
		off = next
	}
}

// maxFastDepth bounds the nesting the fast reader follows (maxFlowDepth
// for flows); deeper files go to goccy and its limits.
const maxFastDepth = maxFlowDepth

// enter counts one level of nesting; leave undoes it.
func (f *fastYAML) enter() {
	if f.depth++; f.depth > maxFastDepth {
		decline()
	}
}

func (f *fastYAML) leave() { f.depth-- }

// cur is the current line, or nil at the end.
func (f *fastYAML) cur() *fastLine {
	if f.i < len(f.lines) {
		return &f.lines[f.i]
	}
	return nil
}

// pos is the position of offset off of line l.
func (f *fastYAML) pos(l *fastLine, off int) *token.Position {
	p := take(&f.positions)
	*p = token.Position{Line: l.num, Column: off - l.lineStart + 1, Offset: off + 1}
	return p
}

// block reads the block node that starts the current line, whose content
// starts at column indent.
func (f *fastYAML) block(indent int) ast.Node {
	l := f.cur()
	if isSeqEntry(f.src[l.start:l.end]) {
		return f.sequence(indent)
	}
	if keyEnd(f.src[l.start:l.end]) > 0 {
		return f.mapping(indent)
	}
	decline() // a scalar on a line of its own
	return nil
}

// isSeqEntry reports whether content starts a block sequence entry.
func isSeqEntry(content string) bool {
	return content == "-" || strings.HasPrefix(content, "- ")
}

// keyEnd is the length of the plain key that content starts with, when it
// starts with `NAME:` followed by a space or the end; otherwise 0.
func keyEnd(content string) int {
	for j := 0; j < len(content); j++ {
		c := content[j]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
		case (c == '-' || c == '.') && j > 0:
		case c == ':' && j > 0:
			if j+1 == len(content) || content[j+1] == ' ' {
				return j
			}
			return 0
		default:
			return 0
		}
	}
	return 0
}

// mapping reads a block mapping whose keys are at column indent, starting
// at the current line.
func (f *fastYAML) mapping(indent int) ast.Node {
	f.enter()
	defer f.leave()
	var values []*ast.MappingValueNode
	for l := f.cur(); l != nil && l.indent == indent; l = f.cur() {
		if len(values) == maxMappingKeys {
			decline()
		}
		content := f.src[l.start:l.end]
		k := keyEnd(content)
		if k == 0 {
			decline()
		}
		key := f.src[l.start : l.start+k]
		keyNode := f.scalarNode(f.plain(key, f.pos(l, l.start)))
		colon := f.token(token.MappingValue(f.pos(l, l.start+k)))
		var value ast.Node
		if rest := l.start + k + 1; rest < l.end {
			value = f.inline(l, skipSpaces(f.src[:l.end], rest))
		} else {
			f.i++
			next := f.cur()
			switch {
			case next == nil:
				decline() // an implicit null
			case next.indent > indent:
				value = f.block(next.indent)
			case next.indent == indent && isSeqEntry(f.src[next.start:next.end]):
				value = f.sequence(indent)
			default:
				decline() // an implicit null
			}
		}
		if next := f.cur(); next != nil && next.indent > indent {
			decline()
		}
		mk, ok := keyNode.(ast.MapKeyNode)
		if !ok {
			decline()
		}
		values = append(values, f.mappingValue(colon, mk, value))
	}
	if len(values) == 0 {
		decline()
	}
	return ast.Mapping(values[0].Start, false, values...)
}

// sequence reads a block sequence whose dashes are at column indent,
// starting at the current line. A long sequence (the policies of a large
// file) is read in parallel, in runs of entries (parallelSequence).
func (f *fastYAML) sequence(indent int) ast.Node {
	f.enter()
	defer f.leave()
	var seq *ast.SequenceNode
	if !f.worker {
		if starts := f.entryStarts(indent); len(starts) >= minParallelEntries {
			return f.parallelSequence(indent, starts)
		}
	}
	for l := f.cur(); l != nil && l.indent == indent && isSeqEntry(f.src[l.start:l.end]); l = f.cur() {
		seq = f.entry(indent, seq)
	}
	if seq == nil {
		decline()
	}
	return seq
}

// entry reads the sequence entry at the current line (dash at column
// indent) into seq, a new sequence when seq is nil, and returns seq.
func (f *fastYAML) entry(indent int, seq *ast.SequenceNode) *ast.SequenceNode {
	l := f.cur()
	dash := f.token(token.SequenceEntry("-", f.pos(l, l.start)))
	if seq == nil {
		seq = ast.Sequence(dash, false)
	}
	item := l.start + 1
	for item < l.end && f.src[item] == ' ' {
		item++
	}
	if item == l.end || isSeqEntry(f.src[item:l.end]) {
		decline() // an entry on the next lines, or a sequence in a sequence
	}
	var value ast.Node
	if keyEnd(f.src[item:l.end]) > 0 {
		// A mapping that starts on the dash's line: its keys are at the
		// column of the first.
		l.start, l.indent = item, item-l.lineStart
		value = f.mapping(l.indent)
	} else {
		value = f.inline(l, item)
	}
	if next := f.cur(); next != nil && next.indent > indent {
		decline()
	}
	seq.Values = append(seq.Values, value)
	return seq
}

// minParallelEntries is the number of entries from which a sequence is
// read in parallel; below it, starting readers costs more than it saves.
const minParallelEntries = 64

// entryStarts are the lines that start the entries of the block sequence
// at the current line (dashes at column indent): the lines from here at
// column indent that start an entry, up to the first line left of indent
// or at indent that does not. Lines of an entry are to the right of its
// dash, so each entry is the lines from its start to the next.
func (f *fastYAML) entryStarts(indent int) []int {
	var starts []int
	for j := f.i; j < len(f.lines); j++ {
		l := &f.lines[j]
		if l.indent < indent {
			break
		}
		if l.indent == indent {
			if !isSeqEntry(f.src[l.start:l.end]) {
				break
			}
			starts = append(starts, j)
		}
	}
	return starts
}

// parallelSequence reads the sequence whose entries start at lines starts
// in runs of consecutive entries and lines (inRuns), each with a reader of
// its own, and joins their entries in order: the same tree as the
// sequential read. A decline by any reader declines the file.
func (f *fastYAML) parallelSequence(indent int, starts []int) ast.Node {
	end := f.i
	for end < len(f.lines) && (f.lines[end].indent > indent || end <= starts[len(starts)-1]) {
		end++
	}
	type part struct {
		seq      *ast.SequenceNode
		declined bool
	}
	runs := runsFor(len(starts), minParallelEntries)
	parts := make([]part, runs)
	inRuns(runs, len(starts), func(w, lo, hi int) {
		if lo == hi {
			return
		}
		stop := end
		if hi < len(starts) {
			stop = starts[hi]
		}
		r := &fastYAML{src: f.src, lines: f.lines[:stop], i: starts[lo], depth: f.depth, flowMaps: f.flowMaps, worker: true}
		defer func() {
			if v := recover(); v != nil {
				if _, ok := v.(fastDeclined); !ok {
					panic(v)
				}
				parts[w].declined = true
			}
		}()
		var seq *ast.SequenceNode
		for r.i < len(r.lines) {
			seq = r.entry(indent, seq)
		}
		parts[w].seq = seq
	})
	var seq *ast.SequenceNode
	for _, p := range parts {
		switch {
		case p.declined:
			decline()
		case p.seq == nil:
		case seq == nil:
			seq = p.seq
		default:
			seq.Values = append(seq.Values, p.seq.Values...)
		}
	}
	f.i = end
	return seq
}

// inline reads the value that fills line l from offset from to its end (a
// scalar or a one-line flow), and moves to the next line.
func (f *fastYAML) inline(l *fastLine, from int) ast.Node {
	var n ast.Node
	var end int
	switch f.src[from] {
	case '[', '{', '"', '\'':
		n, end = f.flow(l, from)
	default:
		end = l.end
		text := f.src[from:end]
		if !plainText(text, true) {
			decline()
		}
		n = f.scalarNode(f.plain(text, f.pos(l, from)))
	}
	if end != l.end {
		decline()
	}
	f.i++
	return n
}

// flow reads the flow node or quoted scalar at offset at of line l and
// returns it with the offset after it.
func (f *fastYAML) flow(l *fastLine, at int) (ast.Node, int) {
	src := f.src[:l.end]
	switch c := src[at]; c {
	case '"', '\'':
		end := strings.IndexByte(src[at+1:], c)
		if end < 0 {
			decline()
		}
		text := src[at+1 : at+1+end]
		if c == '"' && strings.IndexByte(text, '\\') >= 0 {
			decline() // escapes
		}
		if c == '"' {
			return f.str(token.DoubleQuote(text, src[at:at+end+2], f.pos(l, at))), at + end + 2
		}
		return f.str(token.SingleQuote(text, src[at:at+end+2], f.pos(l, at))), at + end + 2
	case '[':
		f.enter()
		defer f.leave()
		seq := ast.Sequence(f.token(token.SequenceStart("[", f.pos(l, at))), true)
		i := skipSpaces(src, at+1)
		if i < len(src) && src[i] == ']' {
			return seq, i + 1
		}
		for {
			var item ast.Node
			item, i = f.flowItem(l, i)
			seq.Values = append(seq.Values, item)
			i = skipSpaces(src, i)
			if i == len(src) {
				decline()
			}
			switch src[i] {
			case ']':
				return seq, i + 1
			case ',':
				if i = skipSpaces(src, i+1); i == len(src) || src[i] == ']' {
					decline()
				}
			default:
				decline()
			}
		}
	case '{':
		f.enter()
		f.flowMaps++
		defer func() { f.leave(); f.flowMaps-- }()
		start := f.token(token.MappingStart("{", f.pos(l, at)))
		var values []*ast.MappingValueNode
		i := skipSpaces(src, at+1)
		if i < len(src) && src[i] == '}' {
			return ast.Mapping(start, true), i + 1
		}
		for {
			k := keyEnd(src[i:])
			if k == 0 || i+k+1 == len(src) {
				decline()
			}
			key := src[i : i+k]
			mk, ok := f.scalarNode(f.plain(key, f.pos(l, i))).(ast.MapKeyNode)
			if !ok {
				decline()
			}
			colon := f.token(token.MappingValue(f.pos(l, i+k)))
			var value ast.Node
			value, i = f.flowItem(l, skipSpaces(src, i+k+1))
			values = append(values, f.mappingValue(colon, mk, value))
			i = skipSpaces(src, i)
			if i == len(src) {
				decline()
			}
			switch src[i] {
			case '}':
				return ast.Mapping(start, true, values...), i + 1
			case ',':
				if i = skipSpaces(src, i+1); i == len(src) || src[i] == '}' {
					decline()
				}
			default:
				decline()
			}
		}
	}
	decline()
	return nil, 0
}

// flowItem reads one entry of a flow sequence or value of a flow mapping
// at offset at of line l.
func (f *fastYAML) flowItem(l *fastLine, at int) (ast.Node, int) {
	src := f.src[:l.end]
	if at == len(src) {
		decline()
	}
	switch src[at] {
	case '[', '{', '"', '\'':
		return f.flow(l, at)
	}
	end := at
	for end < len(src) && !strings.ContainsRune(",[]{}", rune(src[end])) {
		end++
	}
	text := strings.TrimRight(src[at:end], " ")
	if !plainText(text, f.flowMaps == 0) {
		decline()
	}
	return f.scalarNode(f.plain(text, f.pos(l, at))), end
}

// skipSpaces returns the offset of the first byte of src from i on that is
// not a space.
func skipSpaces(src string, i int) int {
	for i < len(src) && src[i] == ' ' {
		i++
	}
	return i
}

// plainText reports whether text is a plain scalar of the subset: not
// empty, not starting with an indicator, without '#', quotes or flow
// indicators, no space at either end; with colons (fd00::1, 09:00) only
// where colonOK, and then none last or before a space. goccy splits a
// scalar with a colon inside a flow mapping ({to: [fd00::1]} gives the
// mapping {fd00: ":1"}, see glued), so the fast reader takes colons only
// outside flow mappings, where goccy keeps the scalar whole.
func plainText(text string, colonOK bool) bool {
	if text == "" || text[0] == ' ' || text[len(text)-1] == ' ' {
		return false
	}
	if strings.ContainsRune("-?:,[]{}#&*!|>'\"%@`<=~", rune(text[0])) && text != "~" {
		return false
	}
	if strings.IndexByte(text, ':') >= 0 && (!colonOK || text[len(text)-1] == ':' || strings.Contains(text, ": ")) {
		return false
	}
	return !strings.ContainsAny(text, "#'\"`,[]{}")
}

// scalarNode is the node goccy's parser makes of a scalar token
// (parser.parseScalarValue).
func (f *fastYAML) scalarNode(tk *token.Token) ast.Node {
	switch tk.Type {
	case token.NullType:
		return ast.Null(tk)
	case token.BoolType:
		return ast.Bool(tk)
	case token.IntegerType, token.BinaryIntegerType, token.OctetIntegerType, token.HexIntegerType:
		return ast.Integer(tk)
	case token.FloatType:
		return ast.Float(tk)
	case token.InfinityType:
		return ast.Infinity(tk)
	case token.NanType:
		return ast.Nan(tk)
	case token.StringType:
		return f.str(tk)
	}
	decline()
	return nil
}

// parseFast is Parse by the fast reader, for a file inside the subset whose
// walk finds no error and no warning; nil for any other file.
func parseFast(file string, src []byte) *File {
	root := fastRoot(src)
	if root == nil {
		return nil
	}
	p := &parser{file: file, lineLens: lineLengths(src)}
	f := p.fileDecl(root)
	if f == nil || len(p.errs) > 0 || len(p.warns) > 0 {
		return nil
	}
	return f
}

// str is ast.String(tk) from the slabs.
func (f *fastYAML) str(tk *token.Token) *ast.StringNode {
	n := take(&f.strs)
	*n = ast.StringNode{BaseNode: take(&f.bases), Token: tk, Value: tk.Value}
	return n
}

// mappingValue is ast.MappingValue from the slabs.
func (f *fastYAML) mappingValue(colon *token.Token, key ast.MapKeyNode, value ast.Node) *ast.MappingValueNode {
	n := take(&f.mvs)
	*n = ast.MappingValueNode{BaseNode: take(&f.bases), Start: colon, Key: key, Value: value}
	return n
}

// token is a copy of tk from the slabs (tk, made by one of goccy's token
// constructors, which are inlined, stays on the stack).
func (f *fastYAML) token(tk *token.Token) *token.Token {
	t := take(&f.tokens)
	*t = *tk
	return t
}

// plain is token.New(text, text, pos), the token of a plain scalar. A text
// that can be neither a keyword (null, true, ...) nor a number (a name, a
// CIDR, a port/protocol) is a string at once, without token.New's number
// parse, whose failure allocates an error.
func (f *fastYAML) plain(text string, pos *token.Position) *token.Token {
	c := text[0]
	letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
	if strings.IndexByte(text, '/') >= 0 || letter && !keyword(text) {
		return f.token(token.String(text, text, pos))
	}
	return token.New(text, text, pos)
}

// keyword reports whether text is one of goccy's reserved words that start
// with a letter (token.New: null, true and false in three spellings each).
func keyword(text string) bool {
	switch text {
	case "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE":
		return true
	}
	return false
}
