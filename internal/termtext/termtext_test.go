package termtext

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestEscape(t *testing.T) {
	tests := []struct {
		name, in, want, wantField string
	}{
		{name: "plain", in: "curl", want: "curl", wantField: "curl"},
		{name: "space", in: "a b", want: "a b", wantField: `a\x20b`},
		{name: "clear screen", in: "\x1b[2J", want: `\x1b[2J`},
		{name: "title OSC with BEL", in: "\x1b]0;pwn\x07", want: `\x1b]0;pwn\x07`},
		{name: "carriage return and erase line", in: "ok\r\x1b[2Kfake", want: `ok\r\x1b[2Kfake`},
		{name: "forged log line", in: "x\n2026-11-21T12:00:03Z reject root(0)", want: `x\n2026-11-21T12:00:03Z reject root(0)`,
			wantField: `x\n2026-11-21T12:00:03Z\x20reject\x20root(0)`},
		{name: "tab and DEL", in: "a\tb\x7f", want: `a\tb\x7f`},
		{name: "NUL", in: "a\x00b", want: `a\x00b`},
		{name: "backslash cannot fake an escape in a field", in: `\x1b`, want: `\x1b`, wantField: `\\x1b`},
		{name: "C1 CSI", in: "a\u009b2Jb", want: `a\u009b2Jb`},
		{name: "invalid UTF-8", in: "a\xff\xc3b", want: `a\xff\xc3b`},
		{name: "bidi override", in: "txt\u202egnp.exe", want: `txt\u202egnp.exe`},
		{name: "bidi isolate", in: "a\u2066b\u2069", want: `a\u2066b\u2069`},
		{name: "zero width space", in: "ro\u200bot", want: `ro\u200bot`},
		{name: "line separator", in: "a\u2028b", want: `a\u2028b`},
		{name: "no-break space", in: "a\u00a0b", want: `a\u00a0b`},
		{name: "tag character", in: "a\U000e0041", want: `a\U000e0041`},
		{name: "letters unchanged", in: "café-日本", want: "café-日本"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Escape(tt.in); got != tt.want {
				t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.want)
			}
			wantField := tt.wantField
			if wantField == "" {
				wantField = tt.want
			}
			if got := Field(tt.in); got != wantField {
				t.Errorf("Field(%q) = %q, want %q", tt.in, got, wantField)
			}
		})
	}
}

// TestEscapeIsSafe checks every byte and a range of runes: the output has
// no byte below 0x20, no DEL, valid UTF-8 only, and no non-printable rune.
func TestEscapeIsSafe(t *testing.T) {
	var in strings.Builder
	for c := 0; c < 256; c++ {
		in.WriteByte(byte(c))
	}
	for r := rune(0x80); r < 0x3000; r++ {
		in.WriteRune(r)
	}
	in.WriteString("\U000e0001\U0010ffff")
	out := Field(in.String())
	for i, r := range out {
		if r < 0x20 || r == 0x7f || r == 0xfffd || r == ' ' || (r >= 0x80 && !unicode.IsPrint(r)) {
			t.Fatalf("Field output holds %U at byte %d", r, i)
		}
	}
}

// FuzzField: Field's output never holds a control byte, a space, invalid
// UTF-8 or a non-printable rune, whatever the input.
func FuzzField(f *testing.F) {
	f.Add("\x1b[2J\n\r\t\u202e\xff a\\b")
	f.Fuzz(func(t *testing.T, s string) {
		out := Field(s)
		if !utf8.ValidString(out) {
			t.Fatalf("Field(%q) = %q: invalid UTF-8", s, out)
		}
		for _, r := range out {
			if r <= ' ' || r == 0x7f || !unicode.IsPrint(r) {
				t.Fatalf("Field(%q) = %q holds %U", s, out, r)
			}
		}
	})
}
