// Package procinfo reads what a procfs says about processes: which ones
// hold a given socket, and who and what each one is (user, command,
// executable, command line, cgroup and systemd unit).
//
// It reads through an fs.FS rooted at the procfs (Host uses /proc), so tests
// run on fixture trees. Every scan tolerates processes that exit while it
// runs: a process that is gone, or that this process may not inspect, is
// skipped and counted, never an error. Scans are bounded by Reader's limits
// and by the context.
//
// The parsing functions (ParseSocketLink, ParseStatus, ParseCmdline,
// ParseCgroup, UnitOf) are pure.
package procinfo
