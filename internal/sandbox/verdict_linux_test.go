package sandbox

import (
	"errors"
	"fmt"
	"testing"

	"golang.org/x/sys/unix"
)

func TestVerdictClassifiesErrno(t *testing.T) {
	for _, tc := range []struct {
		err          error
		result, name string
	}{
		{nil, Connected, ""},
		{errTimeout, Timeout, ""},
		{unix.ECONNREFUSED, Refused, "ECONNREFUSED"},
		{unix.EPERM, Blocked, "EPERM"},
		{unix.EACCES, Blocked, "EACCES"},
		{fmt.Errorf("wrapped: %w", unix.EHOSTUNREACH), Blocked, "EHOSTUNREACH"},
		{unix.ENETUNREACH, Blocked, "ENETUNREACH"},
	} {
		out, err := verdict(tc.err, 0, "connect")
		if err != nil || out.Result != tc.result || out.Errno != tc.name {
			t.Errorf("verdict(%v) = %+v, %v; want %s/%s", tc.err, out, err, tc.result, tc.name)
		}
	}
	for _, bad := range []error{unix.EADDRINUSE, errors.New("poll broke")} {
		if _, err := verdict(bad, 0, "connect"); err == nil {
			t.Errorf("verdict(%v) gave a verdict, want an error", bad)
		}
	}
}
