package services

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	const src = `# comment
ssh		22/tcp				# SSH Remote Login Protocol

http		80/tcp		www		# WorldWideWeb HTTP
https		443/tcp
https		443/udp
domain		53/tcp
domain		53/udp
broken
alsobroken	12
bad		99999/tcp
dup		1/tcp
dup		2/tcp
`
	db := Parse("/etc/services", strings.NewReader(src))
	wantWarnings := []string{
		"/etc/services:9: malformed line skipped: \"broken\": want `name port/proto [aliases]`",
		`/etc/services:10: malformed line skipped: "alsobroken\t12": want port/proto, got "12"`,
		`/etc/services:11: malformed line skipped: "bad\t\t99999/tcp": bad port "99999"`,
	}
	if diff := cmp.Diff(wantWarnings, db.Warnings()); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	if got, want := db.Problem(), "/etc/services lines 9, 10, 11 are malformed and were skipped"; got != want {
		t.Errorf("Problem() = %q, want %q", got, want)
	}
	tests := []struct {
		name, proto string
		port        uint16
		ok          bool
	}{
		{name: "ssh", proto: "tcp", port: 22, ok: true},
		{name: "ssh", proto: "udp", ok: false},
		{name: "www", proto: "tcp", port: 80, ok: true},
		{name: "https", proto: "udp", port: 443, ok: true},
		{name: "domain", proto: "udp", port: 53, ok: true},
		{name: "dup", proto: "tcp", port: 1, ok: true},
		{name: "bad", proto: "tcp", ok: false},
		{name: "nope", proto: "tcp", ok: false},
	}
	for _, tt := range tests {
		port, ok := db.Port(tt.name, tt.proto)
		if port != tt.port || ok != tt.ok {
			t.Errorf("Port(%q, %q) = %d, %v; want %d, %v", tt.name, tt.proto, port, ok, tt.port, tt.ok)
		}
	}
}

func TestParseClean(t *testing.T) {
	db := Parse("services", strings.NewReader("ssh 22/tcp\n\n# only comments\n"))
	if w, p := db.Warnings(), db.Problem(); len(w) != 0 || p != "" {
		t.Errorf("clean file: warnings %q, problem %q", w, p)
	}
}

// TestParseManyBadLines: a file of garbage gives a bounded number of
// warnings, escaped and cut short.
func TestParseManyBadLines(t *testing.T) {
	var b strings.Builder
	b.WriteString("ssh 22/tcp\n")
	for i := range 25 {
		fmt.Fprintf(&b, "\x1b[31mgarbage%d %s\n", i, strings.Repeat("x", 100))
	}
	db := Parse("s", strings.NewReader(b.String()))
	w := db.Warnings()
	if len(w) != maxLineWarnings+1 {
		t.Fatalf("%d warnings, want %d:\n%s", len(w), maxLineWarnings+1, strings.Join(w, "\n"))
	}
	if got, want := w[len(w)-1], "s: 15 more malformed lines skipped"; got != want {
		t.Errorf("last warning %q, want %q", got, want)
	}
	for _, line := range w {
		if strings.ContainsRune(line, 0x1b) || len(line) > 200 {
			t.Errorf("warning not escaped or not cut: %q", line)
		}
	}
	if got, want := db.Problem(), "s lines 2, 3, 4, 5, 6, ... (25 in all) are malformed and were skipped"; got != want {
		t.Errorf("Problem() = %q, want %q", got, want)
	}
	if _, ok := db.Port("ssh", "tcp"); !ok {
		t.Error("the good line is lost")
	}
}

func TestParseReadError(t *testing.T) {
	r := io.MultiReader(strings.NewReader("ssh 22/tcp\nhttp 80/tcp\n"), iotest.ErrReader(errors.New("input/output error")))
	db := Parse("s", r)
	if _, ok := db.Port("http", "tcp"); !ok {
		t.Error("lines before the error are lost")
	}
	if diff := cmp.Diff([]string{"s:3: input/output error: the rest of the file is skipped"}, db.Warnings()); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	if got, want := db.Problem(), "s was read only up to line 2: input/output error"; got != want {
		t.Errorf("Problem() = %q, want %q", got, want)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "services")
	if err := os.WriteFile(good, []byte("ssh 22/tcp\nbroken\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	db := Load(good)
	if p, ok := db.Port("ssh", "tcp"); !ok || p != 22 {
		t.Errorf("Port(ssh, tcp) = %d, %v", p, ok)
	}
	if w := db.Warnings(); len(w) != 1 || !strings.HasPrefix(w[0], good+":2: malformed line skipped") {
		t.Errorf("warnings %q", w)
	}

	// A missing file (minimal images) is an empty database with a warning.
	missing := filepath.Join(dir, "missing")
	db = Load(missing)
	if db.Len() != 0 {
		t.Errorf("missing file: %d entries", db.Len())
	}
	want := []string{fmt.Sprintf("%s could not be read (open %s: no such file or directory): no service name is known, policies must give port numbers", missing, missing)}
	if diff := cmp.Diff(want, db.Warnings()); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	if got, want := db.Problem(), fmt.Sprintf("%s could not be read: open %s: no such file or directory", missing, missing); got != want {
		t.Errorf("Problem() = %q, want %q", got, want)
	}
}

func TestNilDB(t *testing.T) {
	var db *DB
	if _, ok := db.Port("ssh", "tcp"); ok {
		t.Error("nil DB defines ssh")
	}
	if db.Warnings() != nil || db.Problem() != "" {
		t.Error("nil DB has warnings")
	}
}
