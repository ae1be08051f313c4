package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/engine"
	"github.com/leash-dev/leash/internal/termtext"
)

func restoreCmd(d Deps, g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "restore",
		Short: "Load the current generation's stored ruleset (at boot, by leash.service)",
		Long: `Load the current generation's stored compiled ruleset into the kernel.
Needs no policy file, DNS or user database, so it runs early at boot
(leash.service, before network-pre.target).

  - No state directory or nothing ever applied: "nothing to restore", exit 0.
  - A confirmation was pending (the machine restarted inside the window):
    the generation before it is restored instead, recorded as a revert.
  - A change was interrupted (leash was killed between changing the kernel
    and recording it): it is dropped, and the generation that was current
    before it, the last one known to be committed, is restored.
  - Stored state unreadable, or its ruleset inconsistent, or refused by the
    kernel: the EMERGENCY table is loaded (loopback, established
    connections, neighbour discovery and DHCP pass; every other new
    outgoing packet is dropped) and the exit status is 1, with the damaged
    file and the fix. The same when the current generation is an emergency
    table recorded by a failed revert.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := engineFor(cmd, d, g, args).Restore(cmd.Context())
			if err != nil {
				return err
			}
			switch {
			case res.Nothing != "":
				fmt.Fprintf(d.Stdout, "nothing to restore: %s\n", termtext.Escape(res.Nothing))
			case res.Reverted != nil:
				fmt.Fprintf(d.Stdout, "generation %d was awaiting confirmation when leash restarted: %s (now generation %d)\n",
					res.Reverted.Generation, engine.RevertedTo(res.Reverted), res.RevertGeneration)
			case res.NoTable:
				fmt.Fprintf(d.Stdout, "restored %s: no table (leash enforces nothing)\n", describe(*res.Restored))
			default:
				fmt.Fprintf(d.Stdout, "restored %s, applied %s: %s\n", describe(*res.Restored), stamp(res.Restored.Time), res.Restored.Summary)
			}
			return nil
		},
	}
}
