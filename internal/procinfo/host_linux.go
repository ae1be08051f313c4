package procinfo

import "os"

// Host is a Reader of this host's /proc. Run it as root to see every
// process; otherwise other users' processes are skipped (Index.Skipped).
func Host() *Reader { return &Reader{FS: os.DirFS("/proc")} }
