package sandbox_test

import (
	"testing"

	"github.com/leash-dev/leash/internal/sandbox/sandboxtest"
)

func TestMain(m *testing.M) { sandboxtest.Main(m) }
