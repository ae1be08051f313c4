package hostcmd

import "os"

// SystemdBooted reports whether systemd is the init system (sd_booted(3):
// the directory /run/systemd/system exists), so that helpers such as
// systemd-run and systemctl have a manager to talk to.
func SystemdBooted() bool {
	st, err := os.Stat("/run/systemd/system")
	return err == nil && st.IsDir()
}
