package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/leash-dev/leash/internal/compile"
	"github.com/leash-dev/leash/internal/ruleset"
	"github.com/leash-dev/leash/internal/state"
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
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ok, err := stateExists(g)
			if err != nil || !ok {
				if err == nil {
					fmt.Fprintf(d.Stdout, "nothing to restore: %s does not exist (leash was never applied here)\n", g.stateDir)
				}
				return err
			}
			if err := g.store().CheckDir(); err != nil {
				return restoreUntrusted(d, g, err)
			}
			// At boot the kernel cannot say whether a change that was
			// interrupted took effect: it is rolled back, and the last
			// generation known to be committed is loaded.
			return withLockedKernel(cmd, d, g, args, true, func(k Kernel) error {
				return restore(d, g, g.store(), k)
			})
		},
	}
}

func restore(d Deps, g *globals, st *state.Store, k Kernel) error {
	p, err := st.Pending()
	if err != nil {
		return emergency(st, k, 0, err)
	}
	if p != nil {
		return restorePendingPrevious(d, st, k, p)
	}
	cur, err := st.Current()
	if errors.Is(err, state.ErrNone) {
		fmt.Fprintf(d.Stdout, "nothing to restore: no generation was ever applied in %s\n", st.Dir)
		return nil
	}
	if err == nil && cur.Ruleset != nil {
		if verr := ruleset.Validate(cur.Ruleset); verr != nil {
			err = &state.CorruptError{Path: st.GenerationFile(cur.ID), Err: verr}
		}
	}
	if err != nil {
		return emergency(st, k, curID(st), err)
	}
	if err := enforce(k, cur.Ruleset); err != nil {
		return emergency(st, k, cur.ID, fmt.Errorf("the kernel refused generation %d's table: %w", cur.ID, err))
	}
	if cur.What() == state.ActionEmergency {
		return fmt.Errorf("restored %s: the EMERGENCY table is in force since %s. Fix: leash rollback N to an intact generation (see leash history) or leash apply FILE",
			describe(cur.Meta), clock(cur.Time))
	}
	if cur.Ruleset == nil {
		fmt.Fprintf(d.Stdout, "restored %s: no table (leash enforces nothing)\n", describe(cur.Meta))
		return nil
	}
	fmt.Fprintf(d.Stdout, "restored %s, applied %s: %s\n", describe(cur.Meta), clock(cur.Time), cur.Summary)
	return nil
}

// restoreUntrusted fails closed when the state directory is one another
// user could have written (state.Store.CheckDir): nothing in it is loaded,
// the emergency table is, and the error names the chmod or chown to run.
func restoreUntrusted(d Deps, g *globals, cause error) error {
	k, err := openKernel(d, g)
	if err != nil {
		return fmt.Errorf("%w; %w", cause, err)
	}
	defer k.Close()
	return emergency(g.store(), k, 0, cause)
}

// restorePendingPrevious handles a restart inside a confirmation window:
// the unconfirmed generation is not trusted, the one before it is restored.
func restorePendingPrevious(d Deps, st *state.Store, k Kernel, p *state.Pending) error {
	id, err := revertPending(d, st, k, p, fmt.Sprintf("revert of %d at restore (not confirmed before leash restarted)", p.Generation))
	if err != nil {
		return err
	}
	fmt.Fprintf(d.Stdout, "generation %d was awaiting confirmation when leash restarted: %s (now generation %d)\n", p.Generation, revertedTo(p), id)
	return nil
}

// curID is the current generation's number, or 0 when unreadable.
func curID(st *state.Store) int {
	id, _ := st.CurrentID() // only used to leave it out of repair hints
	return id
}

// emergency loads the emergency table because the stored state (cause)
// cannot be trusted, and returns the error that tells the admin what is
// damaged and how to repair it. Nothing is written to the state directory:
// the damaged files stay for inspection, and the next restore fails closed
// the same way until an admin repairs it.
func emergency(st *state.Store, k Kernel, bad int, cause error) error {
	if err := k.Apply(compile.Emergency()); err != nil {
		return fmt.Errorf("restore: %v; loading the emergency table failed too: %w", cause, err)
	}
	fix := "leash apply FILE"
	if ids := intactIDs(st, bad); len(ids) > 0 {
		fix = fmt.Sprintf("leash rollback N with an intact generation (%s; see leash history), or %s", strings.Join(ids, ", "), fix)
	}
	return fmt.Errorf("restore: %v.\nThe EMERGENCY table is loaded: loopback, established connections, neighbour discovery and DHCP pass; every other new outgoing packet is dropped.\nFix: %s", cause, fix)
}
