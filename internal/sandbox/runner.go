package sandbox

import (
	"context"
	"fmt"
	"strings"

	"github.com/leash-dev/leash/internal/hostcmd"
)

// Runner runs an external command (the sandbox only runs `ip`) and returns
// its combined output. The error names the command and includes its output.
type Runner func(ctx context.Context, name string, args ...string) ([]byte, error)

// ExecRunner is the default Runner: the command found by absolute path in
// the system directories (hostcmd, never $PATH), bounded by ctx.
func ExecRunner(ctx context.Context, name string, args ...string) ([]byte, error) {
	out, err := hostcmd.CombinedOutput(ctx, name, args...)
	if err != nil {
		return out, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return out, nil
}
