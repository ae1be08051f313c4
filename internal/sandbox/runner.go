package sandbox

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// Runner runs an external command (the sandbox only runs `ip`) and returns
// its combined output. The error names the command and includes its output.
type Runner func(ctx context.Context, name string, args ...string) ([]byte, error)

// ExecRunner is the default Runner: os/exec, bounded by ctx.
func ExecRunner(ctx context.Context, name string, args ...string) ([]byte, error) {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return out, nil
}
