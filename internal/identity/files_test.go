package identity

import (
	"errors"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/leash-dev/leash/internal/safefile"
)

// TestLoadFilesRefusesSpecialFiles: --passwd /dev/zero or a FIFO is refused
// at once (no endless read, no block) with a *safefile.Error.
func TestLoadFilesRefusesSpecialFiles(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "group")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, paths := range [][2]string{{"/dev/zero", "/etc/group"}, {"/etc/passwd", fifo}} {
		var fe *safefile.Error
		if _, err := LoadFiles(paths[0], paths[1]); !errors.As(err, &fe) {
			t.Errorf("LoadFiles(%s, %s) = %v, want a *safefile.Error", paths[0], paths[1], err)
		}
	}
}
