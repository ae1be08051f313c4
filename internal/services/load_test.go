package services

import (
	"strings"
	"testing"
)

// TestLoadRefusesSpecialFiles: a device or FIFO at the path is not read
// (it could block or never end); it is a warning like a missing file.
func TestLoadRefusesSpecialFiles(t *testing.T) {
	db := Load("/dev/zero")
	if w := strings.Join(db.Warnings(), "; "); !strings.Contains(w, "/dev/zero") || !strings.Contains(w, "not a regular file") {
		t.Errorf("Load(/dev/zero) warnings = %q, want it refused as not a regular file", w)
	}
}
