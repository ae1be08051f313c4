package state

import (
	"bytes"
	"encoding/json"
)

// maxIndented is the largest record (compact JSON) written indented for
// people to read; a larger one (a table of hundreds of thousands of
// entries, which nobody reads by hand: leash export and show do that) is
// written compact, which halves its bytes and the time to write and read
// it (indentation is more than half of an indented large record).
const maxIndented = 1 << 20

// marshalRecord encodes a generation record: up to maxIndented bytes of
// compact JSON it is json.MarshalIndent(v, "", "  "), byte for byte, in a
// third of its time (encoding/json indents by running its validating
// scanner over every byte of the encoding again, while the output of
// json.Marshal is valid already and needs only its strings skipped);
// beyond, compact. Both read the same (Load, the head reader).
func marshalRecord(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil || len(b) > maxIndented {
		return b, err
	}
	return indentValid(make([]byte, 0, 3*len(b)+4096), b), nil
}

// indentValid appends src, valid JSON, to dst indented as json.Indent(dst,
// src, "", "  ") does: a line per element and per key, two spaces a level,
// ": " after keys, empty objects and arrays kept as {} and [].
func indentValid(dst, src []byte) []byte {
	depth, open := 0, false // open: after { or [, whose first line is not yet begun
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		if open && c != '}' && c != ']' {
			open = false
			depth++
			dst = newline(dst, depth)
		}
		switch c {
		case '"':
			end := stringEnd(src, i)
			dst = append(dst, src[i:end]...)
			i = end - 1
		case '{', '[':
			open = true
			dst = append(dst, c)
		case ',':
			dst = newline(append(dst, c), depth)
		case ':':
			dst = append(dst, ':', ' ')
		case '}', ']':
			if open {
				open = false
			} else {
				depth--
				dst = newline(dst, depth)
			}
			dst = append(dst, c)
		default: // a number, true, false, null: up to the next delimiter
			j := i + 1
			for j < len(src) && !isDelim(src[j]) {
				j++
			}
			dst = append(dst, src[i:j]...)
			i = j - 1
		}
	}
	return dst
}

// stringEnd is the offset after the closing quote of the JSON string that
// starts at src[i]: the first quote not escaped by an odd number of
// backslashes.
func stringEnd(src []byte, i int) int {
	for j := i + 1; ; {
		k := bytes.IndexByte(src[j:], '"')
		if k < 0 {
			return len(src)
		}
		j += k
		back := 0
		for back < j-i-1 && src[j-1-back] == '\\' {
			back++
		}
		if back%2 == 0 {
			return j + 1
		}
		j++
	}
}

// isDelim reports whether c ends a JSON number or literal.
func isDelim(c byte) bool {
	switch c {
	case ',', ':', '}', ']', ' ', '\t', '\n', '\r', '"', '{', '[':
		return true
	}
	return false
}

// lineStart is a line break and the indentation of the first levels.
const lineStart = "\n                                                                "

// newline appends a line break and depth levels of indentation.
func newline(dst []byte, depth int) []byte {
	if n := 1 + 2*depth; n <= len(lineStart) {
		return append(dst, lineStart[:n]...)
	}
	dst = append(dst, lineStart...)
	for n := 2*depth - (len(lineStart) - 1); n > 0; {
		k := min(n, len(lineStart)-1)
		dst = append(dst, lineStart[1:1+k]...)
		n -= k
	}
	return dst
}

// squeeze removes from src, in place, the JSON whitespace (space, tab, line
// feed, carriage return) outside strings that is next to a structural
// character ({ } [ ] , :), and returns the shortened slice. The tokens, and
// so what src decodes to and whether it decodes at all, are unchanged (two
// tokens with only whitespace between them stay apart); only the message
// about a malformed src may name another character. It lets json.Unmarshal
// read a generation indented by marshalIndent (2.3 times the size of its
// compact form) at the cost of the compact form: its scanner spends more
// time on the indentation than on the values.
func squeeze(src []byte) []byte {
	out := src[:0]         // written at or before the offset read: in place
	prevStructural := true // the start counts as structural
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case isSpace(c):
			j := i + 1
			for j < len(src) && isSpace(src[j]) {
				j++
			}
			if !prevStructural && (j == len(src) || !isStructural(src[j])) {
				out = append(out, src[i:j]...) // between two tokens, or trailing
			}
			i = j
			continue
		case c == '"':
			end := stringEnd(src, i)
			out = append(out, src[i:end]...)
			i = end
			prevStructural = false
			continue
		}
		out = append(out, c)
		prevStructural = isStructural(c)
		i++
	}
	return out
}

// decodeRecord is json.Unmarshal(b, v) of the generation record b read
// from path, decoding it squeezed (b is overwritten). The error of a
// malformed record is the one json.Unmarshal gives for the file as
// written, read again.
func decodeRecord[T any](s *Store, path string, b []byte, v *T) error {
	err := json.Unmarshal(squeeze(b), v)
	if err == nil {
		return nil
	}
	if orig, rerr := s.readFile(path); rerr == nil {
		var w T
		if werr := json.Unmarshal(orig, &w); werr != nil {
			return werr
		}
	}
	return err
}

// isSpace reports whether c is JSON whitespace.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// isStructural reports whether c is a JSON structural character.
func isStructural(c byte) bool {
	switch c {
	case '{', '}', '[', ']', ',', ':':
		return true
	}
	return false
}
