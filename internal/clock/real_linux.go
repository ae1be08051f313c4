package clock

import (
	"time"

	"golang.org/x/sys/unix"
)

// Mono reads CLOCK_BOOTTIME: monotonic, and counting through suspend.
func (Real) Mono() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		panic("clock: CLOCK_BOOTTIME: " + err.Error()) // exists since Linux 2.6.39
	}
	return time.Duration(ts.Nano())
}
