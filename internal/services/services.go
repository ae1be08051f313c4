// Package services reads the /etc/services database: service names (and
// their aliases) to port numbers, per transport protocol.
package services

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/leash-dev/leash/internal/safefile"
)

// DB maps service names and aliases to ports, per protocol ("tcp", "udp", ...).
// The zero value is an empty database. A nil *DB is also empty.
type DB struct {
	ports map[string]map[string]uint16 // proto -> name -> port
}

// New returns an empty database.
func New() *DB { return &DB{} }

// Add records that name (a service name or alias) is port/proto. An existing
// entry for the same name and protocol is kept: like getservbyname, the first
// line wins.
func (db *DB) Add(name, proto string, port uint16) {
	if db.ports == nil {
		db.ports = map[string]map[string]uint16{}
	}
	byName := db.ports[proto]
	if byName == nil {
		byName = map[string]uint16{}
		db.ports[proto] = byName
	}
	if _, ok := byName[name]; !ok {
		byName[name] = port
	}
}

// Port returns the port of the service name (or alias) for proto, and whether
// the database defines it.
func (db *DB) Port(name, proto string) (uint16, bool) {
	if db == nil {
		return 0, false
	}
	p, ok := db.ports[proto][name]
	return p, ok
}

// Len is the number of (name, protocol) entries, aliases included.
func (db *DB) Len() int {
	if db == nil {
		return 0
	}
	n := 0
	for _, m := range db.ports {
		n += len(m)
	}
	return n
}

// Load reads a services file such as /etc/services (a regular file of at
// most safefile.MaxSize). See Parse for the
// treatment of malformed lines.
func Load(path string) (*DB, error) {
	src, err := safefile.Read(path)
	if err != nil {
		return nil, fmt.Errorf("services: %w", err)
	}
	db, err := Parse(bytes.NewReader(src))
	if err != nil {
		return db, fmt.Errorf("services: %s: %w", path, err)
	}
	return db, nil
}

// Parse reads the services(5) format: `name port/proto [alias...] [# comment]`.
// Blank lines and comments are skipped. Malformed lines are skipped too and
// reported in the returned error (one per line, naming the line number)
// together with a usable DB of the well-formed lines. A read error returns a
// nil DB.
func Parse(r io.Reader) (*DB, error) {
	db := New()
	var bad []error
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if err := db.parseLine(sc.Text()); err != nil {
			bad = append(bad, fmt.Errorf("line %d: %w", n, err))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return db, errors.Join(bad...)
}

// parseLine adds one line's entries to db.
func (db *DB) parseLine(line string) error {
	if i := strings.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return nil
	}
	if len(fields) < 2 {
		return fmt.Errorf("%q: want `name port/proto [aliases]`", line)
	}
	num, proto, ok := strings.Cut(fields[1], "/")
	if !ok || proto == "" {
		return fmt.Errorf("%q: want port/proto, got %q", line, fields[1])
	}
	port, err := strconv.ParseUint(num, 10, 16)
	if err != nil {
		return fmt.Errorf("%q: bad port %q", line, num)
	}
	db.Add(fields[0], proto, uint16(port))
	for _, alias := range fields[2:] {
		db.Add(alias, proto, uint16(port))
	}
	return nil
}
