package cli

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/daemon"
	"github.com/leash-dev/leash/internal/engine"
)

func daemonCmd(d Deps, g *globals) *cobra.Command {
	var repairEvery time.Duration
	cmd := &cobra.Command{
		Use:   "daemon [FILE]",
		Short: "Keep the kernel in step with the policy file, users and groups (leash-daemon.service)",
		Long: `Run until stopped, keeping table inet leash true while the world changes:

  - FILE (default: the file the current generation was applied from) is
    applied when it changes; an invalid edit is reported and the
    generation in force stays; while a confirmation is pending the file
    waits until it is confirmed or reverted;
  - /etc/passwd and /etc/group changes recompile the current policy
    (leash reapply);
  - SIGHUP does both at once;
  - every --repair-every, a table another tool removed or changed (nft
    flush ruleset, systemctl restart nftables) is loaded again.

Every change goes through the same lock and records as the commands do,
so leash apply, confirm and rollback keep working while the daemon runs.
If the daemon stops, the kernel keeps enforcing the last table. Under
systemd (Type=notify) it reports READY, RELOADING, STOPPING and STATUS
and feeds the watchdog.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			file := ""
			if len(args) == 1 {
				file = args[0]
				if err := trustedInputs(g, file); err != nil {
					return err
				}
			}
			w, err := d.NewWatcher()
			if err != nil {
				return err
			}
			defer w.Close()
			reload := make(chan struct{}, 1)
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			go func() {
				for range hup {
					select {
					case reload <- struct{}{}:
					default:
					}
				}
			}()
			var watchdog time.Duration
			if d.Watchdog != nil {
				watchdog = d.Watchdog()
			}
			return daemon.Run(cmd.Context(), daemon.Config{
				Engine: engineFor(cmd, d, g, args),
				Policy: file,
				Compile: func(ctx context.Context, path string, src []byte) (*engine.Compiled, error) {
					return compileSource(ctx, d, g, path, src)
				},
				ReadFile:      d.ReadFile,
				Watcher:       w,
				IdentityFiles: identityFiles(g),
				Clock:         d.Clock,
				RepairEvery:   repairEvery,
				Watchdog:      watchdog,
				Notify:        d.Notify,
				Reload:        reload,
				Log:           slog.New(slog.NewTextHandler(d.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
			})
		},
	}
	cmd.Flags().DurationVar(&repairEvery, "repair-every", daemon.DefaultRepairEvery, "how often to check that the kernel still holds the table in force, and load it again if not")
	return cmd
}

// identityFiles are the user database files whose changes recompile the
// policy: --passwd and --group if given, else the system's.
func identityFiles(g *globals) []string {
	if g.passwd != "" || g.group != "" {
		return []string{g.passwd, g.group}
	}
	return []string{"/etc/passwd", "/etc/group"}
}
