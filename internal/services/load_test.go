package services

import (
	"errors"
	"testing"

	"github.com/leash-dev/leash/internal/safefile"
)

func TestLoadRefusesSpecialFiles(t *testing.T) {
	var fe *safefile.Error
	if _, err := Load("/dev/zero"); !errors.As(err, &fe) {
		t.Errorf("Load(/dev/zero) = %v, want a *safefile.Error", err)
	}
}
