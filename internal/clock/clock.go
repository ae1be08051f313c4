// Package clock is the time source of leash's control plane: the real clock
// in production, a fake one in tests, so that confirmation deadlines and
// waits are tested in milliseconds without sleeping.
package clock

import "time"

// Clock tells the time and waits.
type Clock interface {
	// Now is the current wall-clock time.
	Now() time.Time
	// After returns a channel that receives the time once d has passed
	// (like time.After). A d <= 0 fires at once.
	After(d time.Duration) <-chan time.Time
	// Mono is a monotonic reading from an arbitrary start: it never steps
	// when the wall clock is set (NTP step, `date -s`, a VM restore) and
	// keeps counting while the machine is suspended. Deadlines are waited
	// for by it.
	Mono() time.Duration
}

// Real is the system clock; Mono is CLOCK_BOOTTIME.
type Real struct{}

// Now is time.Now.
func (Real) Now() time.Time { return time.Now() }

// After is time.After.
func (Real) After(d time.Duration) <-chan time.Time { return time.After(d) }
