package clock

import (
	"sync"
	"time"
)

// Fake is a clock that moves only when told to (Advance, Set), or, with
// AutoAdvance, whenever somebody waits: After then moves the clock to the
// waiter's deadline at once, so a loop that polls every second until a
// deadline runs to it without sleeping. Like Go's timers, After counts on
// the monotonic clock: a step of the wall clock (Set) neither fires nor
// delays a waiter. Safe for concurrent use.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	mono    time.Duration
	auto    bool
	waiters []waiter
}

type waiter struct {
	at time.Duration // monotonic
	ch chan time.Time
}

// NewFake returns a fake clock set to start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

// AutoAdvance makes every After move the clock to its deadline.
func (f *Fake) AutoAdvance(on bool) {
	f.mu.Lock()
	f.auto = on
	f.mu.Unlock()
}

// Now is the fake wall-clock time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Mono is the fake monotonic reading: the sum of every Advance.
func (f *Fake) Mono() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mono
}

// After fires once d has passed on the monotonic clock.
func (f *Fake) After(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- f.now
		return ch
	}
	if f.auto {
		f.advance(d)
		ch <- f.now
		return ch
	}
	f.waiters = append(f.waiters, waiter{f.mono + d, ch})
	return ch
}

// Advance lets d pass: the wall clock and the monotonic one move forward by
// d, and the waiters that are due fire.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.advance(d)
}

func (f *Fake) advance(d time.Duration) {
	f.mono += d
	f.now = f.now.Add(d)
	kept := f.waiters[:0]
	for _, w := range f.waiters {
		if w.at > f.mono {
			kept = append(kept, w)
			continue
		}
		w.ch <- f.now
	}
	f.waiters = kept
}

// Set steps the wall clock to t, which may be in the past (NTP, `date -s`,
// a VM restore), without moving the monotonic clock or any waiter.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = t
}

// Waiters is how many Afters have not fired yet.
func (f *Fake) Waiters() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waiters)
}

// DueWithin is how many Afters will fire once d has passed: a test can
// wait for a short timer (a debounce) among long ones before it advances.
func (f *Fake) DueWithin(d time.Duration) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, w := range f.waiters {
		if w.at <= f.mono+d {
			n++
		}
	}
	return n
}
