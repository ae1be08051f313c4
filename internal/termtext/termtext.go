// Package termtext makes text that someone else controls safe to print on
// an admin's terminal.
//
// Process names (prctl PR_SET_NAME), command lines, executable paths and
// working directories, systemd units, user and group names (LDAP), host
// names and policy file paths can hold any bytes. Printed raw, ESC starts a
// terminal control sequence (ESC[2J clears the screen, ESC]0;...BEL sets
// the window title, CSI sequences move the cursor and erase lines), \r and
// \n rewrite or forge whole lines, C1 controls (U+0080-U+009F) act as ESC
// on some terminals, and Unicode bidi and format controls (U+202E, U+2066,
// U+200B) reorder or hide what is shown. Escape and Field write every such
// byte or character as a visible escape, the way systemd's cescape and ls's
// quoting do, so the text stays on one line and shows what it is:
//
//	\n \r \t     newline, carriage return, tab
//	\xHH         any other C0 control, DEL, and each byte of invalid UTF-8
//	\uHHHH       any other character Go's unicode.IsPrint rejects: C1
//	\UHHHHHHHH   controls, bidi and format controls, line and paragraph
//	             separators, spaces other than U+0020, unassigned code points
//
// Field also writes a backslash as \\ and a space as \x20, so that a field
// cannot fake an escape or pose as further fields. Printable text,
// including non-ASCII letters, is otherwise unchanged. JSON output
// needs none of this: encoding/json escapes control characters itself.
package termtext

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Escape returns s with every non-printable byte or character escaped;
// spaces and backslashes are kept, so that text already quoted with %q
// reads the same. Use it for text in a sentence or message.
func Escape(s string) string { return escape(s, false) }

// Field is Escape that also writes a backslash as \\ and a space as \x20,
// so that s stays one unambiguous token in a line of space-separated fields
// (leash log, leash conns): it cannot pose as further fields or fake an
// escape.
func Field(s string) string { return escape(s, true) }

func escape(s string, field bool) string {
	if plain(s, field) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\' && field:
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == ' ' && field:
			b.WriteString(`\x20`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case !unicode.IsPrint(r) && r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		case !unicode.IsPrint(r):
			fmt.Fprintf(&b, `\U%08x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// plain reports whether s is printable ASCII (without backslashes and
// spaces when field is set), which escape returns unchanged.
func plain(s string, field bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < ' ' || c > '~' || (c == '\\' || c == ' ') && field {
			return false
		}
	}
	return true
}
