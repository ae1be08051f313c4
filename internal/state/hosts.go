package state

import (
	"net/netip"
	"path/filepath"
	"time"
)

// HostsRecord is the hostname refresher's record (internal/hostrefresh):
// for every hostname of the policy in force, its last good answer and
// when it was refreshed, beside the generations (hosts.json). It is what
// `leash status` shows without asking the daemon, and where a restarted
// daemon starts from, so that a reboot followed by a DNS outage keeps the
// last good addresses.
type HostsRecord struct {
	// Format is the record format it was written in (see Format).
	Format int `json:"format,omitempty"`
	// Time is when it was written (wall clock).
	Time time.Time `json:"time"`
	// Generation is the generation whose policy the hosts are of.
	Generation int         `json:"generation,omitempty"`
	Hosts      []HostState `json:"hosts,omitempty"`
	// Error is the last failure to change the kernel's table ("" when
	// the last update went through), and ErrorAt when it happened.
	Error   string    `json:"error,omitempty"`
	ErrorAt time.Time `json:"error_at,omitzero"`
}

// HostState is one hostname's refresh state.
type HostState struct {
	Name string `json:"name"`
	// Addrs is the last good answer (capped): what the table holds for
	// the name besides Kept.
	Addrs []netip.Addr `json:"addrs,omitempty"`
	// TTL is the answer's smallest TTL (0: the hosts file, or not yet
	// refreshed); the next refresh is due at Next.
	TTL  time.Duration `json:"ttl,omitempty"`
	Next time.Time     `json:"next,omitzero"`
	// Refreshed is when DNS last answered with addresses (zero: never;
	// Addrs are then the ones resolved at apply).
	Refreshed time.Time `json:"refreshed,omitzero"`
	// Error is why the last lookup failed ("" when it succeeded), ErrorAt
	// when; the set kept its addresses.
	Error   string    `json:"error,omitempty"`
	ErrorAt time.Time `json:"error_at,omitzero"`
	// Kept are addresses that left the answer but stay in the set, while
	// connections to them live or for the grace period.
	Kept []KeptAddr `json:"kept,omitempty"`
}

// KeptAddr is an address kept after it left a name's answer at Gone.
type KeptAddr struct {
	Addr netip.Addr `json:"addr"`
	Gone time.Time  `json:"gone"`
}

// Hosts returns the refresher's record, nil when none was written, or a
// *CorruptError when it cannot be read.
func (s *Store) Hosts() (*HostsRecord, error) {
	return readRecord(s, s.HostsFile(), func(h *HostsRecord) bool { return !h.Time.IsZero() })
}

// SetHosts replaces the refresher's record atomically.
func (s *Store) SetHosts(h *HostsRecord) error {
	h.Format = Format
	return s.writeRecord(s.HostsFile(), "hostname record", h)
}

// HostsFile is where the refresher's record is kept.
func (s *Store) HostsFile() string { return filepath.Join(s.Dir, "hosts.json") }
