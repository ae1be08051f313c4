package services

import (
	"strings"
	"testing"
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
	db, err := Parse(strings.NewReader(src))
	if err == nil {
		t.Fatal("want error for malformed lines")
	}
	for _, want := range []string{"line 9:", "line 10:", "line 11:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
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

func TestNilDB(t *testing.T) {
	var db *DB
	if _, ok := db.Port("ssh", "tcp"); ok {
		t.Error("nil DB defines ssh")
	}
}
