// Package services reads the /etc/services database: service names (and
// their aliases) to port numbers, per transport protocol.
package services

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/leash-dev/leash/internal/safefile"
)

// DB maps service names and aliases to ports, per protocol ("tcp", "udp", ...),
// and remembers what was wrong with the file it was read from. The zero
// value is an empty database. A nil *DB is also empty.
type DB struct {
	ports map[string]map[string]uint16 // proto -> name -> port
	// warnings and problems are what Load and Parse found wrong.
	warnings, problems []string
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

// maxLineWarnings is how many malformed lines get a warning each; the rest
// are counted in one more.
const maxLineWarnings = 10

// Load reads a services file such as /etc/services. It never fails: like
// glibc and nft, it skips malformed lines, and a file that cannot be read
// (minimal images have none) is an empty database. Either is remembered as
// warnings (Warnings) and summed up in Problem, so that a name the policy
// uses and the database lacks can say why.
func Load(path string) *DB {
	src, err := safefile.Read(path) // a regular file of bounded size, never a FIFO
	if err != nil {
		db := New()
		db.problems = []string{fmt.Sprintf("%s could not be read: %v", path, err)}
		db.warnings = []string{fmt.Sprintf("%s could not be read (%v): no service name is known, policies must give port numbers", path, err)}
		return db
	}
	return Parse(path, bytes.NewReader(src))
}

// Parse reads the services(5) format: `name port/proto [alias...] [# comment]`.
// Blank lines and comments are skipped. Malformed lines are skipped too,
// each with a warning that names path and the line number; a read error
// keeps the lines before it, with a warning.
func Parse(path string, r io.Reader) *DB {
	db := New()
	var bad []int
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	n := 1
	for ; sc.Scan(); n++ {
		if err := db.parseLine(sc.Text()); err != nil {
			bad = append(bad, n)
			if len(bad) <= maxLineWarnings {
				db.warnings = append(db.warnings, fmt.Sprintf("%s:%d: malformed line skipped: %v", path, n, err))
			}
		}
	}
	if len(bad) > maxLineWarnings {
		db.warnings = append(db.warnings, fmt.Sprintf("%s: %d more malformed lines skipped", path, len(bad)-maxLineWarnings))
	}
	if len(bad) > 0 {
		db.problems = append(db.problems, fmt.Sprintf("%s %s", path, badLines(bad)))
	}
	if err := sc.Err(); err != nil {
		db.warnings = append(db.warnings, fmt.Sprintf("%s:%d: %v: the rest of the file is skipped", path, n, err))
		db.problems = append(db.problems, fmt.Sprintf("%s was read only up to line %d: %v", path, n-1, err))
	}
	return db
}

// Warnings are the problems found reading the database, one sentence each,
// for the caller to show (leash prints them as "leash: warning: ...").
func (db *DB) Warnings() []string {
	if db == nil {
		return nil
	}
	return slices.Clone(db.warnings)
}

// Problem sums up in one phrase why the database may lack a name ("" when
// it was read completely): for errors about an unknown service.
func (db *DB) Problem() string {
	if db == nil {
		return ""
	}
	return strings.Join(db.problems, "; ")
}

// badLines says "line 9 is malformed and was skipped", or "lines 9, 10
// are ...", or "lines 2, 3, 4, 5, 6, ... (25 in all) are ...".
func badLines(lines []int) string {
	if len(lines) == 1 {
		return fmt.Sprintf("line %d is malformed and was skipped", lines[0])
	}
	const show = 5
	words := make([]string, 0, show+1)
	for _, l := range lines[:min(len(lines), show)] {
		words = append(words, strconv.Itoa(l))
	}
	if len(lines) > show {
		words = append(words, fmt.Sprintf("... (%d in all)", len(lines)))
	}
	return "lines " + strings.Join(words, ", ") + " are malformed and were skipped"
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
		return fmt.Errorf("%s: want `name port/proto [aliases]`", quote(line))
	}
	num, proto, ok := strings.Cut(fields[1], "/")
	if !ok || proto == "" {
		return fmt.Errorf("%s: want port/proto, got %s", quote(line), quote(fields[1]))
	}
	port, err := strconv.ParseUint(num, 10, 16)
	if err != nil {
		return fmt.Errorf("%s: bad port %s", quote(line), quote(num))
	}
	db.Add(fields[0], proto, uint16(port))
	for _, alias := range fields[2:] {
		db.Add(alias, proto, uint16(port))
	}
	return nil
}

// quote quotes s for a message, Go-escaped (no control character reaches a
// terminal) and cut to its first 60 bytes.
func quote(s string) string {
	const limit = 60
	if len(s) > limit {
		return strconv.Quote(s[:limit]) + "..."
	}
	return strconv.Quote(s)
}
