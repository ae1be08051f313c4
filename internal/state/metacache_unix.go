//go:build unix

package state

import (
	"os"
	"syscall"
)

type fileID struct{ dev, ino uint64 }

func statOf(fi os.FileInfo) (fileID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{dev: uint64(st.Dev), ino: st.Ino}, true
}
